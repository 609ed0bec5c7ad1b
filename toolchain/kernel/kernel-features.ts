/**
 * What a bundle's kernel can do for a boot, known from its kind alone (so it
 * holds for every bundle ever built, without a schema change): which
 * filesystems it mounts host shares with. `boot` asks this before anything
 * starts, so `-v` on a kernel without 9p is refused at once (exit 2) instead of
 * failing inside the guest seconds later.
 *
 *  - HyperKernel: 9p and virtiofs built in (kernel/hyperkernel.config).
 *  - Debian cloud kernel: neither (its config has no 9p and no FUSE).
 *  - custom (`--kernel PATH`): taken as complete, as resolve-kernel.ts does; 9p
 *    is assumed and HyperStart reports a failed mount if it is missing.
 */
import type { KernelKind } from '../bundle/manifest.ts';

export type ShareFilesystem = '9p' | 'virtiofs';

export interface KernelFeatures {
  /** Filesystems the kernel mounts host directories with (`-v`); empty: no volumes. */
  shares: readonly ShareFilesystem[];
  /** Shorthand for `shares.length > 0`. */
  volumes: boolean;
}

const SHARES: Record<KernelKind, readonly ShareFilesystem[]> = {
  hyperkernel: ['9p', 'virtiofs'],
  'debian-cloud': [],
  custom: ['9p'],
};

/** Human name of a kernel kind, for messages ("the Debian cloud kernel has no 9p"). */
export const KERNEL_KIND_NAMES: Record<KernelKind, string> = {
  hyperkernel: 'the HyperKernel',
  'debian-cloud': 'the Debian cloud kernel',
  custom: 'the custom kernel',
};

export function kernelFeatures(kind: KernelKind): KernelFeatures {
  const shares = SHARES[kind];
  return { shares, volumes: shares.length > 0 };
}
