/**
 * The image source the builder uses for registry references: resolve the
 * reference for a platform, and leave config and layers as verified files in
 * the BlobStore at `cacheDir`. Blobs already there are not downloaded again.
 */
import { BlobStore } from '../cache/blob-store.ts';
import { BadInputError } from '../errors/errors.ts';
import { Hints, withInputHint } from '../errors/hints.ts';
import type { ImageManifest } from '../image/manifest.ts';
import { isImageConfigType } from '../image/media-types.ts';
import { DEFAULT_PLATFORM, formatPlatform, parsePlatform } from '../image/platform.ts';
import { downloadBlob } from './blob-download.ts';
import type { RegistryOptions } from './client.ts';
import { RegistryClient } from './client.ts';
import { mapLimit } from './concurrency.ts';
import { fetchJsonBlob } from './json-blob.ts';
import { isBundleArtifact } from '../bundle/oci-artifact.ts';
import { formatReference, manifestReference, parseReference } from './reference.ts';
import { resolveImage } from './resolve-image.ts';

export interface PullImageOptions extends RegistryOptions {
  cacheDir: string;
  /** `os/arch[/variant]`, default `linux/amd64`. */
  platform?: string;
}

export interface PulledLayer {
  digest: string;
  mediaType: string;
  size: number;
  /** Verified file in the BlobStore. */
  path: string;
}

export interface PulledImage {
  /** Canonical form of the reference, e.g. `docker.io/library/nginx:latest`. */
  reference: string;
  /** Digest of the platform's image manifest (what a bundle records as its source). */
  manifestDigest: string;
  /** Digest the reference resolved to when it names an index/manifest list. */
  indexDigest?: string;
  manifest: ImageManifest;
  configDigest: string;
  config: Record<string, unknown>;
  /** Verified config file in the BlobStore. */
  configPath: string;
  platform: string;
  layers: PulledLayer[];
}

/** Pull an image into the cache; its documents' errors carry the document hint unless they have a better one. */
export function pullImage(ref: string, opts: PullImageOptions): Promise<PulledImage> {
  return withInputHint(Hints.document, () => pullIntoCache(ref, opts));
}

async function pullIntoCache(ref: string, opts: PullImageOptions): Promise<PulledImage> {
  const parsed = parseReference(ref);
  const platform = parsePlatform(opts.platform ?? DEFAULT_PLATFORM);
  const store = new BlobStore(opts.cacheDir);
  const client = await RegistryClient.create(parsed.registry, opts);
  try {
    const name = formatReference(parsed);
    const { top, image } = await resolveImage(client, parsed.repository, manifestReference(parsed), platform);
    const manifest = image.manifest;
    if (isBundleArtifact(manifest)) {
      throw new BadInputError(`${name} is a hyperbuild bundle, not a container image`, { hint: `fetch it with 'hyperbuild pull ${ref} -o DIR'` });
    }
    if (!isImageConfigType(manifest.config.mediaType)) {
      throw new BadInputError(`${name} is not a container image (its config is ${manifest.config.mediaType.slice(0, 100)})`);
    }
    // Keep manifests too, so the builder can work offline from the cache later.
    await store.put(image.digest, bytesOf(image.bytes), { expectedSize: image.bytes.length, label: `manifest of ${name}` });
    if (top.digest !== image.digest) await store.put(top.digest, bytesOf(top.bytes), { expectedSize: top.bytes.length, label: `index of ${name}` });
    const config = await fetchJsonBlob(client, store, parsed.repository, manifest.config, `config of ${name}`);
    const layers = await mapLimit(manifest.layers, client.concurrency, async (layer, i) => ({
      digest: layer.digest,
      mediaType: layer.mediaType,
      size: layer.size,
      path: await downloadBlob(client, store, parsed.repository, layer, `layer ${i + 1}/${manifest.layers.length} (${layer.digest.slice(0, 19)}) of ${name}`),
    }));
    return {
      reference: name,
      manifestDigest: image.digest,
      indexDigest: top.digest !== image.digest ? top.digest : undefined,
      manifest,
      configDigest: manifest.config.digest,
      config: config.json,
      configPath: store.path(manifest.config.digest),
      platform: formatPlatform(platform),
      layers,
    };
  } finally {
    client.close();
  }
}

async function* bytesOf(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
