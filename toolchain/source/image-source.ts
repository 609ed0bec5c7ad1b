import type { Descriptor, Platform } from '../image/descriptor.ts';
import type { ImageConfig } from '../image/image-config.ts';
import type { ImageManifest } from '../image/manifest.ts';

/** One platform-specific image, fully described, whose blobs can be read verified. */
export interface ResolvedImage {
  /** What the user typed. */
  reference: string;
  manifestDigest: string;
  manifest: ImageManifest;
  configDigest: string;
  config: ImageConfig;
  /** Bytes of a blob of this image, verified against the descriptor's digest and size as they stream. */
  readBlob(desc: Descriptor): AsyncIterable<Buffer>;
  /**
   * A cheap identity of the source content for the no-op rebuild check:
   * for content-addressed sources the manifest digest is enough.
   */
  contentKey: string;
}

export interface ResolveOptions {
  platform: Platform;
  cacheDir: string;
  log?: (line: string) => void;
}

/** Every transport (OCI layout, archives, registry, ACI) implements this. */
export interface ImageSource {
  resolve(opts: ResolveOptions): Promise<ResolvedImage>;
}
