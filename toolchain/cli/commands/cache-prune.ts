/**
 * `hyperbuild cache prune`: remove the VM templates from the cache (each is a
 * guest's booted RAM, tens of MiB; the next boot that needs one makes it
 * again), half-made ones included; `--build` also what builds keep (decoded
 * layers, initramfs pieces and archives, memos: the next build is cold),
 * `--all` also pulled blobs and bundles (cache/cache-areas.ts lists them).
 * `--dry-run` lists what would go with its disk use. Running VMs started from
 * a template are not affected: their QEMU keeps its mapping of the removed file.
 */
import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { TemplateStore, type TemplateEntry } from '../../boot/template/template-store.ts';
import { listAreas, removeArea, type PruneLevel } from '../../cache/cache-areas.ts';

interface PruneResult {
  removed: { dir: string; bundleDigest?: string; diskBytes: number }[];
  areas: { name: string; path: string; diskBytes: number }[];
  freedBytes: number;
  dryRun: boolean;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export default class CachePrune extends BaseCommand {
  static description = 'remove the VM templates from the cache (remade by the next boot that needs one); --build, --all: more';

  static examples = ['<%= config.bin %> cache prune', '<%= config.bin %> cache prune --build --dry-run', '<%= config.bin %> cache prune --all --json'];

  static flags = {
    'dry-run': Flags.boolean({ description: 'list what would be removed, remove nothing' }),
    build: Flags.boolean({ description: 'also what builds keep: decoded layers, initramfs pieces and archives, memos (the next build is cold)' }),
    all: Flags.boolean({ description: 'also pulled image blobs and bundles (the HyperKernel cache is never pruned)' }),
  };

  async run(): Promise<PruneResult> {
    const { flags } = await this.parse(CachePrune);
    const dryRun = flags['dry-run'] === true;
    const level: PruneLevel = flags.all ? 'all' : flags.build ? 'build' : 'templates';
    const verb = dryRun ? 'would remove' : 'removed';
    const store = new TemplateStore(flags['cache-dir']);
    const entries: TemplateEntry[] = await store.list();
    for (const e of entries) {
      if (!dryRun) await store.remove(e.dir);
      this.log(`${verb} ${e.dir} (${mib(e.diskBytes)}${e.record ? '' : ', incomplete'})`);
    }
    const areas = await listAreas(flags['cache-dir'], level);
    for (const a of areas) {
      if (!dryRun) await removeArea(a);
      this.log(`${verb} ${a.path}/ (${a.holds}, ${mib(a.diskBytes)})`);
    }
    const freedBytes = [...entries, ...areas].reduce((n, e) => n + e.diskBytes, 0);
    const what = `${entries.length} VM template${entries.length === 1 ? '' : 's'}${level === 'templates' ? '' : `, ${areas.length} cache area${areas.length === 1 ? '' : 's'}`}`;
    this.log(`${what}, ${mib(freedBytes)}${dryRun ? ' (dry run)' : ' freed'}`);
    return {
      removed: entries.map((e) => ({ dir: e.dir, bundleDigest: e.record?.bundleDigest, diskBytes: e.diskBytes })),
      areas: areas.map((a) => ({ name: a.name, path: a.path, diskBytes: a.diskBytes })),
      freedBytes,
      dryRun,
    };
  }
}
