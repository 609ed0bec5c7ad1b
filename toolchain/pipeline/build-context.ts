/**
 * What the build steps share: the options a build is asked for, the context
 * the steps fill in, and what a build leaves in the cache. Its own module so
 * the rootfs writer (build-rootfs.ts, loaded only when a build has work to
 * do) and the steps (build-bundle.ts) both use it without importing each other.
 */
import type { BundleManifest, Compression } from '../bundle/manifest.ts';
import type { CompressionChoice } from '../compress/kinds.ts';
import type { DigestMemo } from '../cache/digest-memo.ts';
import type { DiskRootfsKind } from '../disk/write-disk-rootfs.ts';
import type { Platform } from '../image/platform.ts';
import type { ResolvedKernel } from '../kernel/resolve-kernel.ts';
import type { RegistryOptions } from '../registry/client.ts';
import type { ResolvedImage } from '../source/image-source.ts';

export type RootfsChoice = 'initramfs' | 'ext4' | 'erofs' | 'auto';
/** `--rootfs auto` puts images whose files exceed this on a disk, so guest RAM does not grow with the image. */
export const AUTO_DISK_THRESHOLD = 256 * 1024 ** 2;
export interface BuildOptions {
  reference: string;
  outDir: string;
  cacheDir: string;
  platform: Platform;
  compression: CompressionChoice;
  kernelPath?: string;
  kernelCacheDir: string;
  maxRootfsSize: number;
  sourceDateEpoch?: number;
  hyperbuildVersion: string;
  /** TLS and credential options for registry references. */
  registry?: RegistryOptions;
  rootfs: RootfsChoice;
  /** Directories searched for ACI dependencies. */
  aciPath?: string[];
}

export interface CachedFile {
  path: string;
  digest: string;
  size: number;
}

/** What a build leaves in the cache under its key: the initramfs, and the disk for disk-rootfs bundles. */
export interface CachedInitramfs extends CachedFile {
  /** What the archive was written with (`auto` resolved). */
  compression: Compression;
  uncompressedSize: number;
  rootfsBytes: number;
  disk?: CachedFile & { type: DiskRootfsKind };
}

export interface BuildContext {
  opts: BuildOptions;
  image?: ResolvedImage;
  kernel?: ResolvedKernel & { digest: string; size: number };
  hyperstart?: { bytes: Buffer; digest: string };
  key?: string;
  memo?: DigestMemo;
  upToDate?: boolean;
  initramfs?: CachedInitramfs;
  manifest?: BundleManifest;
}

/** The hex part of a build key: the name of its entries in the initramfs cache. */
export const cacheKeyHex = (key: string) => key.slice('sha256:'.length);
