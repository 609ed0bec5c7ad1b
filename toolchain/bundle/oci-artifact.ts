/**
 * The mapping between a bundle and its OCI 1.1 artifact (toolchain/registry/
 * README.md documents it): bundle.json is the config blob, byte for byte;
 * kernel, initramfs and rootfs are layers titled with their file names. The
 * manifest is built only from the bundle, so pushing the same bundle twice
 * gives the same digest. hyperbuild's own media types and annotations are
 * here; changing any of them breaks bundles already in registries. Transport
 * (push, pull, inspect) is toolchain/registry/'s.
 */
import { sha256Digest } from '../digest/digest.ts';
import { BadInputError } from '../errors/errors.ts';
import { Annotation } from '../image/annotations.ts';
import type { Descriptor } from '../image/descriptor.ts';
import type { ImageManifest } from '../image/manifest.ts';
import { MediaType } from '../image/media-types.ts';
import { bundleFileList, type BundleFile, type BundleFileRole, type BundleManifest, type Compression, type KernelCompression, type RootfsType } from './manifest.ts';
import type { BundleFileRef, OpenedBundle } from './open-bundle.ts';

export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.hyperbuild.bundle.v1';
export const BUNDLE_CONFIG = 'application/vnd.hyperbuild.bundle.config.v1+json';
export const KERNEL_LAYER = 'application/vnd.hyperbuild.kernel.v1';
export const INITRAMFS_LAYER_PREFIX = 'application/vnd.hyperbuild.initramfs.v1.cpio';
export const ROOTFS_LAYER_PREFIX = 'application/vnd.hyperbuild.rootfs.v1';
export const ANNOTATION_KERNEL_RELEASE = 'vnd.hyperbuild.kernel.release';
export const ANNOTATION_PLATFORM = 'vnd.hyperbuild.source.platform';

/** `cpio+gzip`, `cpio+zstd`, `cpio+lz4`, or plain `cpio` for none. */
export function initramfsLayerType(compression: Compression): string {
  return compression === 'none' ? INITRAMFS_LAYER_PREFIX : `${INITRAMFS_LAYER_PREFIX}+${compression}`;
}

/** `kernel.v1`, or `kernel.v1+gzip` for a kernel stored compressed (what `oras pull` users must unpack). */
export function kernelLayerType(compression: KernelCompression | undefined): string {
  return compression ? `${KERNEL_LAYER}+${compression}` : KERNEL_LAYER;
}

export function rootfsLayerType(type: RootfsType): string {
  return `${ROOTFS_LAYER_PREFIX}.${type}`;
}

/** An OCI manifest that carries a hyperbuild bundle (by artifactType, or by config type for registries that drop it). */
export function isBundleArtifact(manifest: ImageManifest): boolean {
  return manifest.artifactType === BUNDLE_ARTIFACT_TYPE || manifest.config.mediaType === BUNDLE_CONFIG;
}

function layerType(bundle: BundleManifest, role: BundleFileRole): string {
  if (role === 'kernel') return kernelLayerType(bundle.kernel.compression);
  if (role === 'initramfs') return initramfsLayerType(bundle.initramfs.compression);
  return rootfsLayerType(bundle.rootfs!.type);
}

/** The artifact's layers: bundle.json's files in order, with their media types. */
export function artifactLayers(bundle: BundleManifest): (BundleFile & { role: BundleFileRole; mediaType: string })[] {
  return bundleFileList(bundle).map((f) => ({ ...f, mediaType: layerType(bundle, f.role) }));
}

/** ISO 8601 without milliseconds, as the OCI annotation examples write it. */
function createdAnnotation(epoch: number | undefined): string | undefined {
  const date = epoch === undefined ? undefined : new Date(epoch * 1000);
  // Past the year 275760 a Date is invalid: no annotation rather than a crash.
  if (!date || Number.isNaN(date.getTime())) return undefined;
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The OCI image manifest (artifact form) for a bundle whose bundle.json bytes are `configBytes`. */
export function artifactManifest(bundle: BundleManifest, configBytes: Uint8Array): Buffer {
  const layers: Descriptor[] = artifactLayers(bundle).map((f) => ({ mediaType: f.mediaType, digest: f.digest, size: f.size, annotations: { [Annotation.title]: f.name } }));
  const annotations: Record<string, string> = {};
  const created = createdAnnotation(bundle.sourceDateEpoch);
  // No sourceDateEpoch, no created: now() would change the digest on every push.
  if (created) annotations[Annotation.created] = created;
  if (bundle.source.reference) annotations[Annotation.baseName] = bundle.source.reference;
  annotations[Annotation.baseDigest] = bundle.source.manifestDigest;
  if (bundle.source.platform) annotations[ANNOTATION_PLATFORM] = bundle.source.platform;
  if (bundle.kernel.release) annotations[ANNOTATION_KERNEL_RELEASE] = bundle.kernel.release;
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: BUNDLE_ARTIFACT_TYPE,
    config: { mediaType: BUNDLE_CONFIG, digest: sha256Digest(Buffer.from(configBytes)), size: configBytes.length },
    layers,
    annotations,
  };
  return Buffer.from(JSON.stringify(manifest));
}

export interface BundleArtifact {
  bundle: BundleManifest;
  configBytes: Buffer;
  configDigest: string;
  files: (BundleFileRef & { mediaType: string })[];
  manifestBytes: Buffer;
  manifestDigest: string;
}

/** The artifact of an opened (verified) bundle directory: what push sends. */
export function bundleArtifact(opened: OpenedBundle): BundleArtifact {
  const types = new Map(artifactLayers(opened.manifest).map((l) => [l.role, l.mediaType]));
  const manifestBytes = artifactManifest(opened.manifest, opened.manifestBytes);
  return {
    bundle: opened.manifest,
    configBytes: opened.manifestBytes,
    configDigest: sha256Digest(opened.manifestBytes),
    files: opened.files.map((f) => ({ ...f, mediaType: types.get(f.role)! })),
    manifestBytes,
    manifestDigest: sha256Digest(manifestBytes),
  };
}

/** Pull: the artifact's layers must be exactly the files bundle.json names, no more, no less. */
export function checkArtifactLayers(manifest: ImageManifest, bundle: BundleManifest, name: string): void {
  const files = bundleFileList(bundle);
  const layers = new Map(manifest.layers.map((l) => [l.digest, l]));
  for (const f of files) {
    const layer = layers.get(f.digest);
    if (!layer || layer.size !== f.size) throw new BadInputError(`${name}: bundle.json names ${f.role} ${f.name} (${f.digest}) but the manifest has no such layer`, { hint: 'push the bundle again' });
  }
  if (manifest.layers.length !== files.length) throw new BadInputError(`${name}: the manifest has ${manifest.layers.length} layers but bundle.json names ${files.length} files`, { hint: 'push the bundle again' });
}
