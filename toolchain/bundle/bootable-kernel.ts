/**
 * The kernel as a monitor loads it. A bundle may store its kernel file
 * compressed (bundle.json `kernel.compression`: the HyperKernel's vmlinux as
 * `kernel.gz`, 12 MB → 3.5 MB), which no monitor can load, so this is the one
 * place that turns a bundle's kernel into a bootable file:
 *   - boot: unpacked once into the cache, `CACHE/unpacked-kernels/<sha256 hex>`
 *     (named by the unpacked digest, so every bundle with that kernel shares
 *     it), put in place atomically and proved against `uncompressedDigest`;
 *     later boots find it through the digest memo (a stat, no rehash); a copy
 *     that no longer matches is unpacked again;
 *   - export and `push --as kubevirt`: the same verified bytes as a stream.
 * The compressed file is hostile input like the rest of a bundle: corrupt
 * gzip, more bytes than `uncompressedSize` (the inflating stops there, so a
 * bomb writes at most that; the parser caps it at MAX_KERNEL_BYTES), fewer,
 * or another digest are refused with exit 2, naming the file. A bundle whose
 * kernel is not compressed boots from its own file, as before.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultCacheDir } from '../cache/cache-dir.ts';
import { DigestMemo } from '../cache/digest-memo.ts';
import { gzipDecompress } from '../compress/gzip.ts';
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import { writeStreamAtomic } from '../fs/atomic.ts';
import type { BundleKernel } from './manifest.ts';
import type { BundleFileRef, OpenedBundle } from './open-bundle.ts';

const HINT = 'rebuild the bundle (hyperbuild build) or copy it again';

export function unpackedKernelsDir(cacheDir: string): string {
  return join(cacheDir, 'unpacked-kernels');
}

function kernelFile(opened: OpenedBundle): BundleFileRef {
  return opened.files.find((f) => f.role === 'kernel')!;
}

/** The unpacked kernel's bytes from the compressed file at `path`, proved against bundle.json before the last chunk is given. */
export async function* unpackKernel(path: string, k: BundleKernel, label: string): AsyncGenerator<Buffer> {
  const limit = k.uncompressedSize!;
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of gzipDecompress(createReadStream(path), label)) {
      size += chunk.length;
      if (size > limit) throw new BadInputError(`${label} unpacks to more than the ${limit} bytes bundle.json declares (kernel.uncompressedSize)`, { hint: HINT });
      hash.update(chunk);
      yield chunk;
    }
  } catch (err) {
    throw err instanceof BadInputError ? err.withHint(HINT) : err;
  }
  if (size !== limit) throw new BadInputError(`${label} unpacks to ${size} bytes, bundle.json declares ${limit} (kernel.uncompressedSize)`, { hint: HINT });
  if (`sha256:${hash.digest('hex')}` !== k.uncompressedDigest) {
    throw new BadInputError(`${label} unpacks to other bytes than bundle.json's kernel.uncompressedDigest names: the bundle was changed or corrupted`, { hint: HINT });
  }
}

/** The bootable kernel's size and bytes (export, `push --as kubevirt`): the file as it is, or unpacked and verified on the way. */
export function bootableKernelBytes(opened: OpenedBundle): { size: number; open: () => AsyncIterable<Buffer> } {
  const file = kernelFile(opened);
  const k = opened.manifest.kernel;
  if (!k.compression) return { size: file.size, open: () => createReadStream(file.path) as AsyncIterable<Buffer> };
  return { size: k.uncompressedSize!, open: () => unpackKernel(file.path, k, `bundle ${opened.dir}: kernel ${file.name}`) };
}

/** Write the unpacked kernel to `target`, all or nothing (export: a file next to the launch file). */
export async function writeUnpackedKernel(opened: OpenedBundle, target: string): Promise<void> {
  await writeStreamAtomic(target, bootableKernelBytes(opened).open());
}

/**
 * The absolute path of the kernel a monitor loads for an opened (verified)
 * bundle: its own kernel file, or the unpacked copy in `cacheDir`'s
 * `unpacked-kernels/`, made now if missing or damaged.
 */
export async function bootableKernel(opened: OpenedBundle, cacheDir: string = defaultCacheDir()): Promise<string> {
  const k = opened.manifest.kernel;
  if (!k.compression) return resolve(kernelFile(opened).path);
  const target = resolve(unpackedKernelsDir(cacheDir), k.uncompressedDigest!.slice('sha256:'.length));
  const memo = new DigestMemo(cacheDir);
  const found = await memo.digest(target).catch(() => undefined);
  if (found && found.digest === k.uncompressedDigest && found.size === k.uncompressedSize) return target;
  try {
    await writeUnpackedKernel(opened, target);
  } catch (err) {
    if (err instanceof HyperbuildError) throw err;
    throw new HyperbuildError(`cannot unpack the kernel of bundle ${opened.dir} into ${unpackedKernelsDir(cacheDir)}: ${(err as Error).message}`, {
      hint: 'the cache must be writable by whoever boots (or pass another --cache-dir)',
      cause: err,
    });
  }
  // Its bytes were just proved: the next boot takes the digest from the memo.
  await memo.remember(target, k.uncompressedDigest!);
  return target;
}
