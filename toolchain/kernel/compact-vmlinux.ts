/**
 * The HyperKernel's vmlinux as it enters bundles: without its alignment
 * padding (elf-compact.ts; 20.4 MB → 12.0 MB, the same memory image), made once
 * per kernel cache entry and kept beside the original as `vmlinux.compact-1`.
 * A kernel entry never changes once it exists (kernel-cache.ts), so the file
 * derived from it does not either; the suffix names the compaction rules, so
 * a change to them gets a new file instead of a stale one. It is checked
 * against the original (sameLoadedImage) whenever either file's identity
 * changes, remembered in the FileFactMemo like the kernel's format, so a no-op
 * build reads neither.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileFactMemo } from '../cache/file-fact-memo.ts';
import { HyperbuildError } from '../errors/errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { compactElf, sameLoadedImage } from './elf-compact.ts';
import { HYPERKERNEL_FILES } from './kernel-cache.ts';

export const COMPACT_VMLINUX = 'vmlinux.compact-1';

/** Make or check the compact file; true once it loads exactly as the original does. */
async function ensureCompact(source: string, target: string): Promise<true> {
  const original = await readFile(source);
  const existing = await readFile(target).catch(() => undefined);
  if (existing && sameLoadedImage(original, existing, target)) return true;
  try {
    await writeFileAtomic(target, compactElf(original, source), { mode: 0o644 });
  } catch (err) {
    throw new HyperbuildError(`cannot write the compact HyperKernel ${target}: ${(err as Error).message}`, {
      hint: 'the kernel cache must be writable by whoever builds bundles (or rebuild it: hyperbuild kernel build)',
      cause: err,
    });
  }
  return true;
}

/** Path of the compact vmlinux of the HyperKernel cache entry in `entryDir`. */
export async function compactVmlinux(entryDir: string, memo?: FileFactMemo): Promise<string> {
  const source = join(entryDir, HYPERKERNEL_FILES.vmlinux);
  const target = join(entryDir, COMPACT_VMLINUX);
  if (memo) await memo.get(`compact vmlinux ${target}`, [source, target], () => ensureCompact(source, target));
  else await ensureCompact(source, target);
  return target;
}
