/**
 * The areas of the cache directory (`--cache-dir`), what each holds, and how
 * far `hyperbuild cache prune` goes to remove it. Everything here is made
 * again on demand and verified on every reuse, so removing an area costs only
 * time: the next build decodes and compresses again, the next boot makes its
 * template again. Each area's owner module builds its own path; this list
 * names them once for prune (tests/cache-prune.test.ts checks that every area
 * the code writes is listed). The HyperKernel's cache is never pruned: it has
 * its own directory and commands (`kernel build`, `kernel ls`) and takes
 * ~20 minutes to rebuild.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { diskUse } from '../fs/disk-use.ts';

/** How much prune removes: VM templates (the default), what builds keep, or every area. */
export type PruneLevel = 'templates' | 'build' | 'all';

export interface CacheArea {
  /** Directory name under the cache dir. */
  name: string;
  holds: string;
  /** The lowest level that removes it (templates are pruned by TemplateStore, one by one). */
  level: Exclude<PruneLevel, 'templates'>;
}

export const CACHE_AREAS: readonly CacheArea[] = [
  { name: 'layers', holds: 'decoded image layers, by diff_id', level: 'build' },
  { name: 'pieces', holds: 'records of compressed initramfs pieces', level: 'build' },
  { name: 'initramfs', holds: 'built initramfs archives and disk root filesystems, by build key', level: 'build' },
  { name: 'archives', holds: 'indexes of docker-save and OCI archives', level: 'build' },
  { name: 'unpacked-kernels', holds: 'bundle kernels unpacked for booting', level: 'build' },
  { name: 'code-cache', holds: "V8's compiled code of the lean CLI", level: 'build' },
  { name: 'digest-memo', holds: 'file digests remembered by stat identity', level: 'build' },
  { name: 'fact-memo', holds: 'tool versions and file facts remembered by stat identity', level: 'build' },
  { name: 'tmp', holds: 'half-written files', level: 'build' },
  { name: 'blobs', holds: 'verified image blobs pulled from registries', level: 'all' },
  { name: 'registry', holds: 'where pulled blobs came from (cross-repository mounts)', level: 'all' },
  { name: 'bundles', holds: 'bundles pulled or built for `boot REFERENCE`', level: 'all' },
];

/** Areas the cache dir may hold that prune leaves alone, with why. */
export const KEPT_AREAS: Readonly<Record<string, string>> = {
  kernels: 'the kernel cache (its own --kernel-cache-dir, which defaults to the same directory)',
  templates: 'VM templates, removed one by one through their store',
};

export interface AreaUse {
  name: string;
  path: string;
  holds: string;
  /** Allocated bytes (st_blocks), so sparse files count what they take. */
  diskBytes: number;
}

export function areasFor(level: PruneLevel): readonly CacheArea[] {
  if (level === 'templates') return [];
  return CACHE_AREAS.filter((a) => level === 'all' || a.level === 'build');
}

/** The areas of `level` present under `cacheDir`, with their disk use. */
export async function listAreas(cacheDir: string, level: PruneLevel): Promise<AreaUse[]> {
  const found: AreaUse[] = [];
  for (const a of areasFor(level)) {
    const path = join(cacheDir, a.name);
    if (!(await stat(path).catch(() => undefined))) continue;
    found.push({ name: a.name, path, holds: a.holds, diskBytes: await diskUse(path) });
  }
  return found;
}

/**
 * Remove an area. A build or boot running meanwhile keeps reading what it has
 * open; what it looks up afterwards is missing and made again.
 */
export async function removeArea(area: AreaUse): Promise<void> {
  await rm(area.path, { recursive: true, force: true });
}
