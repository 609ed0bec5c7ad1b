/**
 * hyperbuild's own media types and annotations for bundle artifacts, documented
 * in ./README.md; changing any of them breaks bundles already in registries.
 * The standard OCI / Docker types are in ../image/media-types.ts.
 */
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

export const ANNOTATION_KERNEL_RELEASE = 'vnd.hyperbuild.kernel.release';
export const ANNOTATION_PLATFORM = 'vnd.hyperbuild.source.platform';
