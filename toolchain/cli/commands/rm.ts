/** `hyperbuild rm [-f] VM...`: remove VMs' state; a running one only with -f (killed first, as `docker rm -f`). */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { withVmLock } from '../../vm/lock.ts';
import { findVm, vmLabel } from '../../vm/ps.ts';
import { removeVm } from '../../vm/remove.ts';
import { stateRoot } from '../../vm/state-dir.ts';

export default class Rm extends BaseCommand {
  static description = 'remove VMs (their state, logs and name); -f kills running ones first';

  static examples = ['<%= config.bin %> rm web', '<%= config.bin %> rm -f $(<%= config.bin %> ps -aq)'];

  static strict = false;

  static args = { vm: Args.string({ description: 'name, ID or ID prefix (several may be given)', required: true }) };

  static flags = {
    force: Flags.boolean({ char: 'f', description: 'kill a running VM first' }),
  };

  async run(): Promise<{ removed: string[] }> {
    const { argv, flags } = await this.parse(Rm);
    const root = stateRoot();
    const removed: string[] = [];
    for (const ref of argv as string[]) {
      const v = findVm(root, ref);
      await withVmLock(v.ref.dir, vmLabel(v), 'rm', () => removeVm(root, v, flags.force));
      this.log(vmLabel(v));
      removed.push(vmLabel(v));
    }
    return { removed };
  }
}
