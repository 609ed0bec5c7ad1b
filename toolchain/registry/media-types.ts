/**
 * Media types hyperbuild reads and writes. The hyperbuild ones are documented
 * in ./README.md; changing any of them breaks bundles already in registries.
 */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
/** Schema 1 is deprecated, signed, and carries no config blob: refused. */
export const DOCKER_SCHEMA1 = 'application/vnd.docker.distribution.manifest.v1+json';
export const DOCKER_SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';

/** What we can read, most preferred first (sent as Accept). */
export const ACCEPTED_MANIFESTS = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST] as const;

export const BUNDLE_ARTIFACT_TYPE = 'application/vnd.hyperbuild.bundle.v1';
export const BUNDLE_CONFIG = 'application/vnd.hyperbuild.bundle.config.v1+json';
export const KERNEL_LAYER = 'application/vnd.hyperbuild.kernel.v1';
export const INITRAMFS_LAYER_PREFIX = 'application/vnd.hyperbuild.initramfs.v1.cpio';
export const ROOTFS_LAYER_PREFIX = 'application/vnd.hyperbuild.rootfs.v1';

/** `cpio+gzip`, `cpio+zstd`, `cpio+lz4`, or plain `cpio` for none. */
export function initramfsLayerType(compression: 'none' | 'gzip' | 'zstd' | 'lz4'): string {
  return compression === 'none' ? INITRAMFS_LAYER_PREFIX : `${INITRAMFS_LAYER_PREFIX}+${compression}`;
}

export function rootfsLayerType(type: 'ext4' | 'erofs'): string {
  return `${ROOTFS_LAYER_PREFIX}.${type}`;
}

export const ANNOTATION_TITLE = 'org.opencontainers.image.title';
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
/** Standard OCI keys for "the image this one was made from". */
export const ANNOTATION_BASE_NAME = 'org.opencontainers.image.base.name';
export const ANNOTATION_BASE_DIGEST = 'org.opencontainers.image.base.digest';
export const ANNOTATION_KERNEL_RELEASE = 'vnd.hyperbuild.kernel.release';
export const ANNOTATION_PLATFORM = 'vnd.hyperbuild.source.platform';
