/** `hyperbuild kill [-s SIG] VM...`: a signal to the app (default KILL, exit 137), as `docker kill`. */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { killVm, parseSignal } from '../../vm/control.ts';
import { findVm, vmLabel } from '../../vm/ps.ts';
import { stateRoot } from '../../vm/state-dir.ts';

export default class Kill extends BaseCommand {
  static description = 'send a signal to the app in VMs (default KILL)';

  static examples = ['<%= config.bin %> kill web', '<%= config.bin %> kill -s HUP web'];

  static strict = false;

  static args = { vm: Args.string({ description: 'name, ID or ID prefix (several may be given)', required: true }) };

  static flags = {
    signal: Flags.string({ char: 's', description: 'signal name or number', default: 'KILL' }),
  };

  async run(): Promise<{ name: string; signal: string }[]> {
    const { argv, flags } = await this.parse(Kill);
    const signal = parseSignal(flags.signal);
    const root = stateRoot();
    const out: { name: string; signal: string }[] = [];
    for (const ref of argv as string[]) {
      const v = findVm(root, ref);
      await killVm(v, signal);
      this.log(vmLabel(v));
      out.push({ name: vmLabel(v), signal: signal.name });
    }
    return out;
  }
}
