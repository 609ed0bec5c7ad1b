/** `hyperbuild logs [-f] [--tail N] [--since D] [-t] VM`: the app's stdout and stderr, also after it ended. */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { BadInputError } from '../../errors/errors.ts';
import { parseDurationMs } from '../../boot/duration.ts';
import { printLogs } from '../../vm/logs.ts';
import { findVm, viewVm, vmLabel } from '../../vm/ps.ts';
import { stateRoot } from '../../vm/state-dir.ts';

/** `--since`: a duration back from now (10s, 5m), or a date/time (2024-05-01T12:00:00Z). */
function parseSince(text: string): number {
  if (/^\d+(\.\d+)?(ms|s|m|h)?$/.test(text)) return Date.now() - parseDurationMs(text, '--since');
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new BadInputError(`--since '${text}' is neither a duration nor a date`, { hint: 'e.g. --since 10m or --since 2024-05-01T12:00:00Z' });
  return t;
}

export default class Logs extends BaseCommand {
  static description = 'print a detached VM\'s app output (stdout to stdout, stderr to stderr), live with -f';

  static examples = ['<%= config.bin %> logs web', '<%= config.bin %> logs -f --tail 10 web'];

  static enableJsonFlag = false;

  static args = { vm: Args.string({ description: 'name, ID or ID prefix', required: true }) };

  static flags = {
    follow: Flags.boolean({ char: 'f', description: 'keep printing new output until the VM ends' }),
    tail: Flags.integer({ description: 'only the last N lines', min: 0 }),
    since: Flags.string({ description: 'only lines since a duration ago (10m) or a date' }),
    timestamps: Flags.boolean({ char: 't', description: 'prefix each line with its time (RFC 3339, UTC)' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Logs);
    const v = findVm(stateRoot(), args.vm);
    if (v.config?.mode === 'foreground') {
      throw new BadInputError(`${vmLabel(v)} ran in the foreground: its output went to that terminal, not to a log`, { hint: 'run it with -d to keep logs' });
    }
    const o = { tail: flags.tail, sinceMs: flags.since === undefined ? undefined : parseSince(flags.since), timestamps: flags.timestamps };
    const follow = flags.follow ? { ended: () => viewVm(v.ref).state === 'exited', pollMs: 100 } : undefined;
    await printLogs(v.ref.dir, o, { stdout: process.stdout, stderr: process.stderr }, follow);
  }
}
