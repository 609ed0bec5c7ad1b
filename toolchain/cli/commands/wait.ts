/** `hyperbuild wait VM...`: block until each VM has ended, print its exit code (as `docker wait`). */
import { Args } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { waitVm } from '../../vm/control.ts';
import { findVm, vmLabel } from '../../vm/ps.ts';
import { stateRoot } from '../../vm/state-dir.ts';

export default class Wait extends BaseCommand {
  static description = 'wait until VMs end and print their exit codes (`?` when a VM died without one recorded)';

  static examples = ['<%= config.bin %> wait web'];

  static strict = false;

  static args = { vm: Args.string({ description: 'name, ID or ID prefix (several may be given)', required: true }) };

  async run(): Promise<{ name: string; exitCode?: number }[]> {
    const { argv } = await this.parse(Wait);
    const root = stateRoot();
    const out: { name: string; exitCode?: number }[] = [];
    for (const ref of argv as string[]) {
      const v = findVm(root, ref);
      const exitCode = await waitVm(v);
      this.log(exitCode === undefined ? '?' : String(exitCode));
      out.push({ name: vmLabel(v), exitCode });
    }
    return out;
  }
}
