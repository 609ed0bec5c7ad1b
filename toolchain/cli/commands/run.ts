/**
 * `hyperbuild run`: `boot` with docker's habits, one implementation with it
 * (this class is Boot with three more flags; the flags, checks and target
 * resolution are Boot's). Every run is a VM in the state root
 * (toolchain/vm/): named (`--name`, unique), listed by `ps`, removed at its
 * end with `--rm`. Foreground by default; `-d` hands the VM to its supervisor
 * and prints the ID once the app runs.
 */
import { Flags } from '@oclif/core';
import { BadInputError } from '../../errors/errors.ts';
import { parseByteSize } from '../../size/byte-size.ts';
import type { BootOptions, BootResult } from '../../boot/session.ts';
import { runBoot } from '../../boot/session.ts';
import { runDetached } from '../../vm/detached.ts';
import { runForeground } from '../../vm/foreground.ts';
import { readAllLines, writeLines } from '../../vm/logs.ts';
import Boot, { type BootFlags, type BootTarget } from './boot.ts';

const DEFAULT_LOG_MAX = '1m';
const MIN_LOG_MAX = 4096;

export default class Run extends Boot {
  static description = 'run a bundle as a VM, like `docker run`: in the foreground (as boot), or detached with -d';

  static usage = 'run [FLAGS] BUNDLE_DIR|NAME|REFERENCE [-- COMMAND [ARGS...]]';

  static examples = [
    '<%= config.bin %> run --rm out/hello',
    '<%= config.bin %> run -d --name web -p 8080:80 out/busybox -- httpd -f -h /www',
    '<%= config.bin %> run -d registry.example.com/team/api-vm:1.4',
  ];

  static flags = {
    ...Boot.flags,
    detach: Flags.boolean({ char: 'd', description: 'run in the background under the VM supervisor; print the ID once the app runs' }),
    name: Flags.string({ description: 'the VM\'s name (unique on this host; default BUNDLE-XXXXXX)' }),
    rm: Flags.boolean({ description: 'remove the VM\'s state when it ends' }),
    'log-max-size': Flags.string({ description: 'with -d: rotate the app\'s log at this size (one older file kept)', default: DEFAULT_LOG_MAX }),
  };

  /** Detached, stdout carries only the VM's ID, so --json may print it there. */
  protected stdoutIsFree(flags: BootFlags): boolean {
    return !!(flags as BootFlags & { detach?: boolean }).detach;
  }

  protected async boot(o: BootOptions, flags: BootFlags, target: BootTarget): Promise<BootResult> {
    const f = flags as BootFlags & { detach: boolean; name?: string; rm: boolean; 'log-max-size': string };
    const common = { boot: o, target: target.requested, temporaryBundle: target.temporary ? target.bundleDir : undefined, name: f.name, autoRemove: !!f.rm };
    if (!f.detach) return runForeground({ ...common, temporaryBundle: undefined }, runBoot);
    if (o.interactive) throw new BadInputError('-i cannot be used with -d: nobody would be typing', { hint: 'start it with -d, then: hyperbuild exec -it NAME -- sh' });
    const logMaxBytes = parseByteSize(f['log-max-size'], '--log-max-size');
    if (logMaxBytes < MIN_LOG_MAX) throw new BadInputError(`--log-max-size '${f['log-max-size']}' is below 4k`, { hint: 'give 4k or more, e.g. --log-max-size 10m' });
    const { vm, report } = await runDetached({ ...common, logMaxBytes, say: (line) => process.stderr.write(`${line}\n`) });
    if (report.state === 'running') {
      if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify({ id: vm.id, name: vm.name })}\n`);
      else process.stdout.write(`${vm.id}\n`);
      return this.exit(0);
    }
    // It ended before the app ran (command not found, HyperStart failed): say why, with what it wrote.
    writeLines(readAllLines(vm.dir), { timestamps: false }, { stdout: process.stderr, stderr: process.stderr });
    if (report.message) process.stderr.write(`hyperbuild: error: ${vm.name}: ${report.message}\n`);
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify({ id: vm.id, name: vm.name, ...report })}\n`);
    return this.exit(report.exitCode);
  }
}
