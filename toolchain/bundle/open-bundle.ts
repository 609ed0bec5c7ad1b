/**
 * Opening a bundle directory: bundle.json through the strict parser, then
 * every file it names proved to be the one the build wrote (regular file,
 * size, sha256) before any consumer uses it. A truncated copy or an edited
 * initramfs is refused here with the file's name, not met as a guest kernel
 * panic or a broken artifact in a registry.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestMemo } from '../cache/digest-memo.ts';
import { fileDigest } from '../digest/file-digest.ts';
import { BadInputError } from '../errors/errors.ts';
import { MAX_MANIFEST_BYTES } from '../image/json-document.ts';
import { BUNDLE_MANIFEST_NAME, bundleFileList, type BundleFile, type BundleFileRole, type BundleManifest } from './manifest.ts';
import { parseBundleManifest } from './parse-manifest.ts';

const FILE_HINT = 'rebuild the bundle (hyperbuild build) or copy it again';

/**
 * `full` hashes every file (boot, push: the bytes are about to leave this
 * machine or enter a VM); `memo` takes digests from the build's DigestMemo,
 * which rehashes any file whose stat identity changed (build's no-op check).
 */
export type VerifyMode = { verify: 'full' } | { verify: 'memo'; memo: DigestMemo };

export interface BundleFileRef extends BundleFile {
  role: BundleFileRole;
  /** `dir/name`. */
  path: string;
}

export interface OpenedBundle {
  dir: string;
  manifest: BundleManifest;
  /** bundle.json exactly as on disk (its digest is the artifact's config digest). */
  manifestBytes: Buffer;
  /** Kernel, initramfs, then the rootfs disk if any: all verified. */
  files: BundleFileRef[];
}

/** Read and parse `dir/bundle.json` (files not checked: see verifyBundleFiles). */
export async function readBundleManifest(dir: string): Promise<{ manifest: BundleManifest; manifestBytes: Buffer }> {
  const path = join(dir, BUNDLE_MANIFEST_NAME);
  let manifestBytes: Buffer;
  try {
    const { size } = await stat(path);
    if (size > MAX_MANIFEST_BYTES) throw new BadInputError(`${path} is ${size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit for manifests`, { hint: FILE_HINT });
    manifestBytes = await readFile(path);
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadInputError(`${dir} is not a bundle: cannot read ${BUNDLE_MANIFEST_NAME} (${code ?? (err as Error).message})`, {
      hint: 'pass the directory hyperbuild build wrote',
    });
  }
  return { manifest: parseBundleManifest(manifestBytes, path), manifestBytes };
}

async function verifyFile(dir: string, f: BundleFile & { role: BundleFileRole }, mode: VerifyMode): Promise<BundleFileRef> {
  const path = join(dir, f.name);
  const what = `bundle ${dir}: ${f.role} ${f.name}`;
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new BadInputError(`${what} is not a regular file`, { hint: FILE_HINT });
    size = st.size;
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadInputError(code === 'ENOENT' ? `${what} is missing` : `${what} cannot be read (${code ?? (err as Error).message})`, { hint: FILE_HINT });
  }
  if (size !== f.size) {
    throw new BadInputError(`${what} has ${size} bytes, bundle.json says ${f.size}: the bundle was changed or truncated`, { hint: FILE_HINT });
  }
  const actual = mode.verify === 'memo' ? await mode.memo.digest(path) : await fileDigest(path);
  if (actual.digest !== f.digest || actual.size !== f.size) {
    throw new BadInputError(`${what} does not match bundle.json (sha256 differs): the bundle was changed or corrupted`, { hint: FILE_HINT });
  }
  return { ...f, path };
}

/** Prove every file `manifest` names is in `dir` with its size and digest. */
export function verifyBundleFiles(dir: string, manifest: BundleManifest, mode: VerifyMode): Promise<BundleFileRef[]> {
  return Promise.all(bundleFileList(manifest).map((f) => verifyFile(dir, f, mode)));
}

/** Read, parse and verify a bundle directory. */
export async function openBundle(dir: string, mode: VerifyMode): Promise<OpenedBundle> {
  const { manifest, manifestBytes } = await readBundleManifest(dir);
  return { dir, manifest, manifestBytes, files: await verifyBundleFiles(dir, manifest, mode) };
}

/** A bundle about to boot, proved intact: through the digest memo of `cacheDir` when there is a cache, else hashed in full. */
export function openBundleToBoot(dir: string, cacheDir: string | undefined): Promise<OpenedBundle> {
  return openBundle(dir, cacheDir ? { verify: 'memo', memo: new DigestMemo(cacheDir) } : { verify: 'full' });
}
