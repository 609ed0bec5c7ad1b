/**
 * `hyperbuild pull`: fetch a bundle artifact into a directory. Every blob is
 * verified into the cache first, then the bundle writer assembles the
 * directory beside the target and renames it into place ('empty-only': never
 * over anything), so `-o DIR` is either a whole bundle or untouched.
 */
import { resolve } from 'node:path';
import { bundleFileList, type BundleManifest } from '../bundle/manifest.ts';
import { checkArtifactLayers, isBundleArtifact } from '../bundle/oci-artifact.ts';
import { parseBundleManifest } from '../bundle/parse-manifest.ts';
import { writeBundle } from '../bundle/write-bundle.ts';
import { BlobStore } from '../cache/blob-store.ts';
import { BadInputError } from '../errors/errors.ts';
import { DEFAULT_PLATFORM, parsePlatform } from '../image/platform.ts';
import { downloadBlob } from './blob-download.ts';
import type { RegistryOptions } from './client.ts';
import { RegistryClient } from './client.ts';
import { mapLimit } from './concurrency.ts';
import { fetchJsonBlob } from './json-blob.ts';
import { recordOrigin } from './origin-record.ts';
import { formatReference, manifestReference, parseReference } from './reference.ts';
import { resolveImage } from './resolve-image.ts';

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

export async function pullBundle(ref: string, outDir: string, opts: PullBundleOptions): Promise<PullBundleResult> {
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const store = new BlobStore(opts.cacheDir);
  const client = await RegistryClient.create(parsed.registry, opts);
  try {
    const { image } = await resolveImage(client, parsed.repository, manifestReference(parsed), parsePlatform(opts.platform ?? DEFAULT_PLATFORM));
    const manifest = image.manifest;
    if (!isBundleArtifact(manifest)) {
      throw new BadInputError(`${name} is a container image, not a hyperbuild bundle`, { hint: `turn it into a bundle with 'hyperbuild build ${ref}'` });
    }
    const config = await fetchJsonBlob(client, store, parsed.repository, manifest.config, `bundle.json of ${name}`);
    const bundle = parseBundleManifest(config.bytes, `bundle.json of ${name}`);
    checkArtifactLayers(manifest, bundle, name);
    const files = bundleFileList(bundle);
    const paths = await mapLimit(files, client.concurrency, (f) => downloadBlob(client, store, parsed.repository, f, `${f.name} of ${name}`));
    const target = resolve(outDir);
    // bundle.json's exact bytes: the artifact's config digest is of them.
    await writeBundle(target, files.map((f, i) => ({ name: f.name, from: paths[i]! })), config.bytes, 'empty-only');
    await recordOrigin(opts.cacheDir, manifest.config.digest, { registry: parsed.registry, repository: parsed.repository });
    return { reference: name, manifestDigest: image.digest, dir: target, bundle };
  } finally {
    client.close();
  }
}
