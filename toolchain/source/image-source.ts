/**
 * The interface every image transport implements: resolve a reference to one image whose layers stream verified.
 */
import type { Platform } from '../image/platform.ts';
import type { ImageConfig } from '../image/image-config.ts';
import type { TarMember } from '../tar/reader.ts';

/** One layer as a stream of tar members, verified and decompressed. Bottom layer first. */
export interface LayerInput {
  /** Names the layer in progress lines and errors. */
  label: string;
  members(): AsyncIterable<TarMember>;
  /** The layer's diff_id (sha256 of its uncompressed tar), when it has one: decoded layers are cached by it. */
  diffId?: string;
}

/** One platform-specific image, fully described, whose layers stream verified. */
export interface ResolvedImage {
  /** What the user typed. */
  reference: string;
  manifestDigest: string;
  configDigest: string;
  config: ImageConfig;
  /** The filesystem layers to merge, bottom first. */
  layers(): LayerInput[];
  /**
   * A cheap identity of the source content for the no-op rebuild check:
   * for content-addressed sources the manifest digest is enough.
   */
  contentKey: string;
  /** Every blob the image is made of (indexes followed, manifest, config, layers), for content-addressed sources. */
  blobDigests?: readonly string[];
  /** Host files the image is read from, for Make dependency files (`build --depfile`); undefined: none (a registry). */
  localFiles?: readonly string[];
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
