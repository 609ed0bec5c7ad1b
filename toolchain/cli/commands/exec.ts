/**
 * `hyperbuild exec [-i] [-t] [-e] [-u] [-w] VM -- CMD ARGS…`: a second process
 * in a running detached VM (toolchain/vm/exec-client.ts), with the app's
 * environment, user and working directory unless overridden; the exit code
 * is the command's (126/127 when it cannot run, as docker exec).
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { BadInputError } from '../../errors/errors.ts';
import { parseEnvEntry } from '../../boot/env-options.ts';
import { execInVm } from '../../vm/exec-client.ts';
import { findVm } from '../../vm/ps.ts';
import { stateRoot } from '../../vm/state-dir.ts';

export default class Exec extends BaseCommand {
  static description = 'run a command in a running detached VM; its output, stdin (-i) and exit code are yours';

  static usage = 'exec [FLAGS] VM -- COMMAND [ARGS...]';

  static examples = ['<%= config.bin %> exec web -- cat /etc/hostname', '<%= config.bin %> exec -it web -- sh'];

  static enableJsonFlag = false;

  static strict = false;

  static args = { vm: Args.string({ description: 'name, ID or ID prefix', required: true }) };

  static flags = {
    interactive: Flags.boolean({ char: 'i', description: 'forward stdin to the command' }),
    tty: Flags.boolean({ char: 't', description: 'run it on a terminal (raw mode here, window size forwarded)' }),
    env: Flags.string({ char: 'e', description: 'set NAME=VALUE (or pass NAME from here) on top of the app\'s environment', multiple: true, multipleNonGreedy: true }),
    user: Flags.string({ char: 'u', description: 'run as name|uid[:group|gid] (default: the app\'s user)' }),
    workdir: Flags.string({ char: 'w', description: 'working directory (default: the app\'s)' }),
  };

  async run(): Promise<void> {
    const dashdash = this.argv.indexOf('--');
    const before = dashdash < 0 ? this.argv : this.argv.slice(0, dashdash);
    const command = dashdash < 0 ? [] : this.argv.slice(dashdash + 1);
    const { args, flags, argv } = await this.parse({ args: Exec.args, flags: Exec.flags, baseFlags: Exec.baseFlags, strict: false }, before);
    const cmd = [...(argv as string[]).slice(1), ...command];
    if (!cmd.length) throw new BadInputError('exec needs a command', { hint: 'hyperbuild exec VM -- COMMAND [ARGS...]' });
    if (flags.workdir !== undefined && !flags.workdir.startsWith('/')) throw new BadInputError(`--workdir '${flags.workdir}' must be an absolute path`);
    const v = findVm(stateRoot(), args.vm);
    const env = (flags.env ?? []).map((e) => parseEnvEntry(e, process.env, '--env')).filter((e): e is string => e !== undefined);
    const code = await execInVm(v, { args: cmd, env, user: flags.user, workdir: flags.workdir, tty: !!flags.tty, interactive: !!flags.interactive }, process);
    if (flags.interactive) process.stdin.destroy();
    this.exit(code);
  }
}
