/**
 * bundle.json's types and constants: the versioned description of a bundle
 * directory. Everything `boot`, `push` and `inspect` need is here; file digests
 * let every consumer refuse a bundle whose files were changed or truncated.
 * Reading one is parse-manifest.ts's job, a directory open-bundle.ts's,
 * writing one write-bundle.ts's.
 */
export const BUNDLE_MEDIA_TYPE = 'application/vnd.hyperbuild.bundle.v1+json';
export const BUNDLE_SCHEMA_VERSION = 1;
export const BUNDLE_MANIFEST_NAME = 'bundle.json';

/** Initramfs compressions a bundle may use: the one list, in toolchain/compress/. */
export { COMPRESSIONS, type Compression } from '../compress/kinds.ts';
import type { Compression } from '../compress/kinds.ts';
export const ROOTFS_TYPES = ['ext4', 'erofs'] as const;
export type RootfsType = (typeof ROOTFS_TYPES)[number];
export const KERNEL_KINDS = ['hyperkernel', 'debian-cloud', 'custom'] as const;
export const KERNEL_FORMATS = ['vmlinux', 'bzImage'] as const;
/** How a bundle may carry its kernel file compressed (absent: as it boots). */
export const KERNEL_COMPRESSIONS = ['gzip'] as const;
export type KernelCompression = (typeof KERNEL_COMPRESSIONS)[number];
/** The largest kernel a compressed kernel file may declare (a PVH vmlinux is ~12 MB): bounds what unpacking writes. */
export const MAX_KERNEL_BYTES = 256 * 1024 * 1024;

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

export type KernelKind = (typeof KERNEL_KINDS)[number];

export interface BundleKernel extends BundleFile {
  kind: KernelKind;
  /** `uname -r` style release, when known. */
  release?: string;
  /** `vmlinux` (ELF, PVH-bootable) or `bzImage`. */
  format: (typeof KERNEL_FORMATS)[number];
  /** The kernel has a PVH entry point (boots on QEMU microvm / Firecracker). */
  pvh: boolean;
  /** sha256 of the kernel's .config, when known. */
  configDigest?: string;
  /** Virtio and friends are modules that HyperStart must load (slower). */
  modular: boolean;
  /**
   * The file is compressed (the HyperKernel's vmlinux: 12 MB → 3.5 MB); a
   * monitor cannot load it so, so boot unpacks it once into the cache and
   * export into its output (bootable-kernel.ts), proved against these two.
   */
  compression?: KernelCompression;
  /** `sha256:` of the kernel as it boots (compressed only). */
  uncompressedDigest?: string;
  /** Bytes of the kernel as it boots (compressed only), at most MAX_KERNEL_BYTES. */
  uncompressedSize?: number;
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
  rootfs?: BundleFile & { type: RootfsType };
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

/** The kernel's file name in a bundle: `kernel`, or `kernel.gz` when it is stored gzip-compressed. */
export function kernelFileName(compression: KernelCompression | undefined): string {
  return compression === 'gzip' ? `${KERNEL_FILE_NAME}.gz` : KERNEL_FILE_NAME;
}

/** What a file is for in a bundle. */
export type BundleFileRole = 'kernel' | 'initramfs' | 'rootfs';

/** The files bundle.json names, in artifact layer order: kernel, initramfs, then the rootfs disk if any. */
export function bundleFileList(m: BundleManifest): (BundleFile & { role: BundleFileRole })[] {
  const files: (BundleFile & { role: BundleFileRole })[] = [
    { role: 'kernel', name: m.kernel.name, digest: m.kernel.digest, size: m.kernel.size },
    { role: 'initramfs', name: m.initramfs.name, digest: m.initramfs.digest, size: m.initramfs.size },
  ];
  if (m.rootfs) files.push({ role: 'rootfs', name: m.rootfs.name, digest: m.rootfs.digest, size: m.rootfs.size });
  return files;
}
