/**
 * Everything mkfs would otherwise take from the clock or /dev/urandom, fixed
 * so that the same tree always gives the same image bytes.
 */
import type { RootfsTree } from '../tree/rootfs-tree.ts';

/**
 * Fixed filesystem UUID. A bundle's VM sees exactly one root disk, so a
 * shared UUID cannot collide with anything that matters, and a per-build
 * random one would break reproducibility. (Mount by device, never by UUID.)
 */
export const DISK_UUID = '68797065-6275-4964-8000-726f6f746673';
/** Seed of ext4's directory-index hash; fixed for the same reason. */
export const EXT4_HASH_SEED = '68797065-7262-4d69-8c64-686173687365';

/** An mtime as the image stores it: whole seconds, never negative, clamped to SOURCE_DATE_EPOCH. */
export function clampTime(t: number, sourceDateEpoch: number | undefined): number {
  const nonNegative = Math.max(0, Math.trunc(t));
  return sourceDateEpoch === undefined ? nonNegative : Math.min(nonNegative, sourceDateEpoch);
}

/**
 * The time written into superblocks (mkfs time, last write, erofs build
 * time): SOURCE_DATE_EPOCH when given, else the newest mtime in the tree, so
 * the image depends on the tree only. At least 1, because the e2fsprogs
 * fake-time hook treats 0 as "unset" and would read the clock.
 */
export function buildTime(tree: RootfsTree, sourceDateEpoch: number | undefined): number {
  if (sourceDateEpoch !== undefined) return Math.max(1, Math.trunc(sourceDateEpoch));
  let newest = 1;
  for (const { node } of tree.walk()) newest = Math.max(newest, clampTime(node.inode.mtime, undefined));
  return newest;
}
