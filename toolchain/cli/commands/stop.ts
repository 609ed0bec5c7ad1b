/** `hyperbuild stop [-t N] VM...`: SIGTERM to the app, power-off after N s (exit 143, or 137 when forced), as `docker stop`. */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { parseDurationMs } from '../../boot/duration.ts';
import { stopVm } from '../../vm/control.ts';
import { withVmLock } from '../../vm/lock.ts';
import { findVm, vmLabel } from '../../vm/ps.ts';
import { stateRoot } from '../../vm/state-dir.ts';

export default class Stop extends BaseCommand {
  static description = 'stop VMs: SIGTERM to the app, then power off after --time (the app\'s code, 143, or 137)';

  static examples = ['<%= config.bin %> stop web', '<%= config.bin %> stop -t 2 web db'];

  static strict = false;

  static args = { vm: Args.string({ description: 'name, ID or ID prefix (several may be given)', required: true }) };

  static flags = {
    time: Flags.string({ char: 't', description: 'seconds (or 500ms, 1m) the app gets before the VM is powered off', default: '10' }),
  };

  async run(): Promise<{ name: string; exitCode?: number }[]> {
    const { argv, flags } = await this.parse(Stop);
    const ms = parseDurationMs(flags.time, '--time');
    const root = stateRoot();
    const out: { name: string; exitCode?: number }[] = [];
    for (const ref of argv as string[]) {
      const v = findVm(root, ref);
      const exitCode = await withVmLock(v.ref.dir, vmLabel(v), 'stop', () => stopVm(v, ms));
      this.log(vmLabel(v));
      out.push({ name: vmLabel(v), exitCode });
    }
    return out;
  }
}
