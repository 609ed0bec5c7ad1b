import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BadInputError } from '../errors/errors.ts';
import { BUNDLE_MANIFEST_NAME, type BundleManifest } from './manifest.ts';

export interface BundleFileSource {
  /** Name inside the bundle. */
  name: string;
  /** File to copy in (copy-on-write where the filesystem allows). */
  from: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Write a bundle directory all-or-nothing: everything goes to a hidden temp
 * directory beside `outDir`, which replaces `outDir` by rename only when
 * complete. A failed or interrupted build leaves the previous bundle intact;
 * a directory that is not a bundle is never overwritten.
 */
export async function writeBundle(outDir: string, files: BundleFileSource[], manifest: BundleManifest): Promise<void> {
  const out = resolve(outDir);
  if (await exists(out)) {
    const entries = await readdir(out).catch(() => null);
    if (entries === null) throw new BadInputError(`output ${outDir} exists and is not a directory`);
    if (entries.length > 0 && !entries.includes(BUNDLE_MANIFEST_NAME)) {
      throw new BadInputError(`output ${outDir} is a non-empty directory that is not a bundle; refusing to replace it`, { hint: 'choose another -o directory' });
    }
  }
  await mkdir(dirname(out), { recursive: true });
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = join(dirname(out), `.${basename(out)}.tmp-${suffix}`);
  await mkdir(tmp);
  try {
    for (const f of files) await copyFile(f.from, join(tmp, f.name));
    await writeFile(join(tmp, BUNDLE_MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    if (await exists(out)) {
      const old = join(dirname(out), `.${basename(out)}.old-${suffix}`);
      await rename(out, old);
      await rename(tmp, out);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, out);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
