/**
 * Registry references as image sources: pull into the cache, then resolve from it.
 */
import { BlobStore } from '../cache/blob-store.ts';
import { formatPlatform } from '../image/platform.ts';
import { pullImage } from '../registry/registry-source.ts';
import type { RegistryOptions } from '../registry/client.ts';
import { resolveDescriptor, storeReader } from './content-store.ts';
import type { ImageSource, ResolveOptions, ResolvedImage } from './image-source.ts';

/**
 * A registry reference: pull (verified, into the content-addressed cache, skipping
 * blobs already there), then resolve from the cache like any other source.
 */
export class RegistryImageSource implements ImageSource {
  constructor(
    private readonly ref: { ref: string; text: string },
    private readonly registry: RegistryOptions = {},
  ) {}

  async resolve(opts: ResolveOptions): Promise<ResolvedImage> {
    const pulled = await pullImage(this.ref.ref, { ...this.registry, cacheDir: opts.cacheDir, platform: formatPlatform(opts.platform), log: opts.log });
    const store = new BlobStore(opts.cacheDir);
    const size = await store.size(pulled.manifestDigest);
    return resolveDescriptor(storeReader(store), { mediaType: pulled.manifest.mediaType, digest: pulled.manifestDigest, size }, { platform: opts.platform, reference: this.ref.text });
  }
}
