/**
 * Where kernels are cached and how that cache is laid out.
 *
 * Location: `$HYPERBUILD_KERNEL_CACHE_DIR` (or `--kernel-cache-dir`), else
 * `$XDG_CACHE_HOME/hyperbuild`, else `~/.cache/hyperbuild` — the same rule as
 * kernel/build.sh. It never follows `--cache-dir`: a clean blob cache must
 * not change which kernel a bundle gets.
 *
 * Layout (`<kernelCacheDir>/kernels/`):
 *
 *   <key>/                      HyperKernel, key = cache-key.ts
 *     vmlinux bzImage .config release SHA256SUMS
 *   debian-cloud-<version>/     Debian's cloud kernel (fallback)
 *     vmlinuz .config release package modules.load modules/<name>.ko
 *   .work/ .tmp-*               build trees and half-written entries (ignored)
 *
 * Every entry is written under a temporary name and renamed into place, so
 * an entry that exists is complete; readers never need a lock.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultCacheDir } from '../cache/cache-dir.ts';
import { sha256Digest } from '../digest/digest.ts';

export const HYPERKERNEL_FILES = { vmlinux: 'vmlinux', bzImage: 'bzImage', config: '.config', release: 'release' } as const;
export const DEBIAN_CLOUD_PREFIX = 'debian-cloud-';

/** The kernel cache when no `--kernel-cache-dir` is given (see the header). */
export function defaultKernelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.HYPERBUILD_KERNEL_CACHE_DIR || defaultCacheDir(env);
}

export function kernelsDir(cacheDir: string): string {
  return join(cacheDir, 'kernels');
}

export interface CachedKernelEntry {
  /** Directory name: the HyperKernel key, or `debian-cloud-<version>`. */
  key: string;
  dir: string;
  kind: 'hyperkernel' | 'debian-cloud';
  release?: string;
  /** `sha256:` of the kernel's .config, when it has one. */
  configDigest?: string;
  files: { name: string; size: number }[];
}

/** Reads one cache entry; undefined when it is not a complete kernel entry. */
export async function readCachedKernel(cacheDir: string, key: string): Promise<CachedKernelEntry | undefined> {
  if (key.startsWith('.')) return undefined;
  const dir = join(kernelsDir(cacheDir), key);
  const kind = key.startsWith(DEBIAN_CLOUD_PREFIX) ? 'debian-cloud' : 'hyperkernel';
  const names = kind === 'hyperkernel' ? [HYPERKERNEL_FILES.vmlinux, HYPERKERNEL_FILES.bzImage] : ['vmlinuz'];
  const files: { name: string; size: number }[] = [];
  for (const name of names) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (!st?.isFile()) return undefined;
    files.push({ name, size: st.size });
  }
  if (kind === 'debian-cloud') {
    const modules = await readdir(join(dir, 'modules')).catch(() => [] as string[]);
    let size = 0;
    for (const m of modules) size += (await stat(join(dir, 'modules', m))).size;
    files.push({ name: `modules/ (${modules.length})`, size });
  }
  const release = (await readFile(join(dir, HYPERKERNEL_FILES.release), 'utf8').catch(() => '')).trim() || undefined;
  const config = await readFile(join(dir, HYPERKERNEL_FILES.config)).catch(() => undefined);
  return { key, dir, kind, release, configDigest: config && sha256Digest(config), files };
}

/** All complete kernels in the cache, HyperKernels first, newest release last within a kind. */
export async function listCachedKernels(cacheDir: string): Promise<CachedKernelEntry[]> {
  const names = await readdir(kernelsDir(cacheDir)).catch(() => [] as string[]);
  const entries: CachedKernelEntry[] = [];
  for (const name of names.sort()) {
    const entry = await readCachedKernel(cacheDir, name);
    if (entry) entries.push(entry);
  }
  return entries.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'hyperkernel' ? -1 : 1));
}
