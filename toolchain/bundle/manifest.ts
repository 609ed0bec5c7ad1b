/**
 * bundle.json: the versioned description of a bundle directory.
 * Everything `boot`, `push` and `inspect` need is here; file digests let
 * every consumer refuse a bundle whose files were changed or truncated.
 */
export const BUNDLE_MEDIA_TYPE = 'application/vnd.hyperbuild.bundle.v1+json';
export const BUNDLE_SCHEMA_VERSION = 1;
export const BUNDLE_MANIFEST_NAME = 'bundle.json';

export type Compression = 'none' | 'gzip' | 'zstd' | 'lz4';

export interface BundleFile {
  /** File name inside the bundle directory (no slashes). */
  name: string;
  /** `sha256:<hex>` of the file's bytes. */
  digest: string;
  size: number;
}

/** The parts of an OCI image config that matter to a VM. */
export interface ImageRuntimeConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  exposedPorts: string[];
  volumes: string[];
  labels: Record<string, string>;
  stopSignal?: string;
  /** ACI images: port name per exposedPorts entry (`80/tcp` → `http`), for publishing ports by name. */
  portNames?: Record<string, string>;
  /** ACI images: mount point name per volumes entry (`/var/lib/work` → `work`), for attaching volumes by name. */
  volumeNames?: Record<string, string>;
}

export type KernelKind = 'hyperkernel' | 'debian-cloud' | 'custom';

export interface BundleKernel extends BundleFile {
  kind: KernelKind;
  /** `uname -r` style release, when known. */
  release?: string;
  /** `vmlinux` (ELF, PVH-bootable) or `bzImage`. */
  format: 'vmlinux' | 'bzImage';
  /** The kernel has a PVH entry point (boots on QEMU microvm / Firecracker). */
  pvh: boolean;
  /** sha256 of the kernel's .config, when known. */
  configDigest?: string;
  /** Virtio and friends are modules that HyperStart must load (slower). */
  modular: boolean;
}

export interface BundleManifest {
  schemaVersion: typeof BUNDLE_SCHEMA_VERSION;
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  source: {
    /** The reference the user gave, e.g. `oci:fixtures/out/busybox:latest`. */
    reference: string;
    /** Digest of the image manifest the bundle was built from. */
    manifestDigest: string;
    /** Digest of the image config blob. */
    configDigest: string;
    platform: string;
  };
  image: ImageRuntimeConfig;
  kernel: BundleKernel;
  initramfs: BundleFile & { compression: Compression; uncompressedSize: number };
  /** Disk root filesystem, for images too big for an initramfs. */
  rootfs?: BundleFile & { type: 'ext4' | 'erofs' };
  /** Kernel command line the bundle boots with (boot adds machine-specific parts). */
  cmdline: string;
  hyperstart: { version: string; digest: string };
  /** Bytes of file content in the merged root filesystem. */
  rootfsBytes: number;
  /** SOURCE_DATE_EPOCH the build clamped mtimes to, if any. */
  sourceDateEpoch?: number;
  /** Digest of every build input (toolchain/pipeline/build-key.ts): equal key, identical bundle. */
  buildKey: string;
}

export const INITRAMFS_FILE_NAMES: Record<Compression, string> = {
  none: 'initramfs.cpio',
  gzip: 'initramfs.cpio.gz',
  zstd: 'initramfs.cpio.zst',
  lz4: 'initramfs.cpio.lz4',
};
export const KERNEL_FILE_NAME = 'kernel';
