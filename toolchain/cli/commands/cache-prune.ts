/**
 * `hyperbuild cache prune`: remove the VM templates from the cache (each is a
 * guest's booted RAM, tens of MiB; the next boot that needs one makes it
 * again), half-made ones included. `--dry-run` lists them with their disk use.
 * Running VMs started from a template are not affected: their QEMU keeps its
 * mapping of the removed file.
 */
import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { TemplateStore, type TemplateEntry } from '../../boot/template/template-store.ts';

interface PruneResult {
  removed: { dir: string; bundleDigest?: string; diskBytes: number }[];
  freedBytes: number;
  dryRun: boolean;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export default class CachePrune extends BaseCommand {
  static description = 'remove the VM templates from the cache (remade by the next boot that needs one)';

  static examples = ['<%= config.bin %> cache prune', '<%= config.bin %> cache prune --dry-run --json'];

  static flags = {
    'dry-run': Flags.boolean({ description: 'list what would be removed, remove nothing' }),
  };

  async run(): Promise<PruneResult> {
    const { flags } = await this.parse(CachePrune);
    const store = new TemplateStore(flags['cache-dir']);
    const entries: TemplateEntry[] = await store.list();
    const dryRun = flags['dry-run'] === true;
    for (const e of entries) {
      if (!dryRun) await store.remove(e.dir);
      this.log(`${dryRun ? 'would remove' : 'removed'} ${e.dir} (${mib(e.diskBytes)}${e.record ? '' : ', incomplete'})`);
    }
    const freedBytes = entries.reduce((n, e) => n + e.diskBytes, 0);
    this.log(`${entries.length} VM template${entries.length === 1 ? '' : 's'}, ${mib(freedBytes)}${dryRun ? ' (dry run)' : ' freed'}`);
    return { removed: entries.map((e) => ({ dir: e.dir, bundleDigest: e.record?.bundleDigest, diskBytes: e.diskBytes })), freedBytes, dryRun };
  }
}
