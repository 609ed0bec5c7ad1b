import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { BundleManifest } from '../bundle/manifest.ts';
import { BUNDLE_MANIFEST_NAME } from '../bundle/manifest.ts';
import { BlobStore } from '../cache/blob-store.ts';
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import type { ImageManifest } from '../image/manifest.ts';
import { DEFAULT_PLATFORM, parsePlatform } from '../image/platform.ts';
import { downloadBlob } from './blob-download.ts';
import { bundleFiles } from './bundle-artifact.ts';
import type { RegistryOptions } from './client.ts';
import { RegistryClient } from './client.ts';
import { mapLimit } from './concurrency.ts';
import { fetchJsonBlob } from './json-blob.ts';
import { BUNDLE_ARTIFACT_TYPE, BUNDLE_CONFIG } from './media-types.ts';
import { recordOrigin } from './origin-record.ts';
import { formatReference, manifestReference, parseReference } from './reference.ts';
import { resolveImage } from './resolve-image.ts';

/**
 * `hyperbuild pull`: fetch a bundle artifact into a directory. Every blob is
 * verified into the cache first, the directory is assembled beside the target
 * and renamed into place, so `-o DIR` is either a whole bundle or untouched.
 */
export interface PullBundleOptions extends RegistryOptions {
  cacheDir: string;
  platform?: string;
}

export interface PullBundleResult {
  reference: string;
  manifestDigest: string;
  dir: string;
  bundle: BundleManifest;
}

export function isBundleManifest(manifest: ImageManifest): boolean {
  return manifest.artifactType === BUNDLE_ARTIFACT_TYPE || manifest.config.mediaType === BUNDLE_CONFIG;
}

async function prepareTarget(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new HyperbuildError(`cannot use ${dir} as the output: ${(err as Error).message}`);
  }
  if (entries.length > 0) throw new HyperbuildError(`${dir} already exists and is not empty`, { hint: 'remove it or choose another -o directory' });
  await rmdir(dir);
}

export async function pullBundle(ref: string, outDir: string, opts: PullBundleOptions): Promise<PullBundleResult> {
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const store = new BlobStore(opts.cacheDir);
  const client = await RegistryClient.create(parsed.registry, opts);
  try {
    const { image } = await resolveImage(client, parsed.repository, manifestReference(parsed), parsePlatform(opts.platform ?? DEFAULT_PLATFORM));
    const manifest = image.manifest;
    if (!isBundleManifest(manifest)) {
      throw new BadInputError(`${name} is a container image, not a hyperbuild bundle`, { hint: `turn it into a bundle with 'hyperbuild build ${ref}'` });
    }
    const config = await fetchJsonBlob(client, store, parsed.repository, manifest.config, `bundle.json of ${name}`);
    const { bundle, files } = bundleFiles(config.json, `bundle.json of ${name}`);
    // The layers must be exactly the files bundle.json names, no more, no less.
    const layerDigests = new Map(manifest.layers.map((l) => [l.digest, l]));
    for (const f of files) {
      const layer = layerDigests.get(f.digest);
      if (!layer || layer.size !== f.size) throw new BadInputError(`${name}: bundle.json names ${f.role} ${f.name} (${f.digest}) but the manifest has no such layer`);
    }
    if (manifest.layers.length !== files.length) throw new BadInputError(`${name}: the manifest has ${manifest.layers.length} layers but bundle.json names ${files.length} files`);
    const paths = await mapLimit(files, client.concurrency, (f) => downloadBlob(client, store, parsed.repository, f, `${f.name} of ${name}`));

    const target = resolve(outDir);
    await mkdir(dirname(target), { recursive: true });
    await prepareTarget(target);
    const tmp = join(dirname(target), `.${basename(target)}.partial-${process.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(tmp);
    try {
      await writeFile(join(tmp, BUNDLE_MANIFEST_NAME), config.bytes);
      // Copies, not links: editing the output must not corrupt the cache. Reflink when the filesystem can.
      await Promise.all(files.map((f, i) => copyFile(paths[i]!, join(tmp, f.name), constants.COPYFILE_FICLONE)));
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    await recordOrigin(opts.cacheDir, manifest.config.digest, { registry: parsed.registry, repository: parsed.repository });
    return { reference: name, manifestDigest: image.digest, dir: target, bundle };
  } finally {
    client.close();
  }
}
