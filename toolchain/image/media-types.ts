/**
 * Media types of the OCI image spec and Docker's image manifest v2: the one
 * list for every reader of images (layouts, archives, the registry client).
 * hyperbuild's own bundle artifact types live in bundle/oci-artifact.ts.
 */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  // Schema 1 is deprecated, signed, and carries no config blob: refused.
  dockerManifestV1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerManifestV1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** Manifest types we can read, most preferred first (what a registry is sent as Accept). */
export const ACCEPTED_MANIFEST_TYPES = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest] as const;

export type LayerCompression = 'none' | 'gzip' | 'zstd';

const LAYER_TYPES: Record<string, LayerCompression> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd': 'zstd',
};

/** Compression named by a layer media type, or undefined when it is not a layer type we know. */
export function layerCompression(mediaType: string): LayerCompression | undefined {
  return LAYER_TYPES[mediaType];
}

export function isIndexType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

export function isImageManifestType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest;
}

/** A container image config (as opposed to an artifact's config, e.g. a hyperbuild bundle.json). */
export function isImageConfigType(mediaType: string): boolean {
  return mediaType === MediaType.ociConfig || mediaType === MediaType.dockerConfig;
}
