/**
 * The one bundle writer (build, pull, test fixtures): bundle.json and the
 * files it names go into a temp directory beside the target, which is put in
 * place by rename only when complete (fs/atomic.ts replaceDirAtomic). What may
 * already be at the target is explicit: `bundle` (build) replaces an older
 * bundle but never a directory without bundle.json; `empty-only` (pull)
 * writes only into an absent or empty directory.
 */
import { constants } from 'node:fs';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { replaceDirAtomic, type ReplacePolicy } from '../fs/atomic.ts';
import { BUNDLE_MANIFEST_NAME, bundleFileList, type BundleManifest } from './manifest.ts';
import { parseBundleManifest } from './parse-manifest.ts';

export interface BundleFileSource {
  /** Name inside the bundle (as bundle.json names it). */
  name: string;
  /** File to copy in (copy-on-write where the filesystem allows). */
  from: string;
}

export type BundleReplace = 'bundle' | 'empty-only';

const POLICIES: Record<BundleReplace, ReplacePolicy> = { bundle: { marker: BUNDLE_MANIFEST_NAME }, 'empty-only': 'empty-only' };

/** Exact bytes are written as given (pull: the artifact's config digest is of those bytes). */
function manifestBytesOf(manifest: BundleManifest | Uint8Array): Buffer {
  return manifest instanceof Uint8Array ? Buffer.from(manifest) : Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Write a bundle directory all-or-nothing. `manifest` (an object, or
 * bundle.json's exact bytes) must pass the strict parser and name exactly
 * the files in `files`, so no writer can produce a bundle a reader refuses.
 * Returns the parsed manifest.
 */
export async function writeBundle(outDir: string, files: BundleFileSource[], manifest: BundleManifest | Uint8Array, replace: BundleReplace): Promise<BundleManifest> {
  const bytes = manifestBytesOf(manifest);
  const parsed = parseBundleManifest(bytes, join(outDir, BUNDLE_MANIFEST_NAME));
  const named = bundleFileList(parsed).map((f) => f.name).sort();
  const given = files.map((f) => f.name).sort();
  if (named.join('\0') !== given.join('\0')) {
    throw new Error(`writeBundle ${outDir}: bundle.json names ${named.join(', ')} but the files given are ${given.join(', ')}`);
  }
  await replaceDirAtomic(
    outDir,
    async (tmp) => {
      // Copies, not links: editing the output must not corrupt the cache. Reflink when the filesystem can.
      await Promise.all(files.map((f) => copyFile(f.from, join(tmp, f.name), constants.COPYFILE_FICLONE)));
      await writeFile(join(tmp, BUNDLE_MANIFEST_NAME), bytes);
    },
    POLICIES[replace],
    outDir,
  );
  return parsed;
}
