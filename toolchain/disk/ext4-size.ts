/**
 * How big an ext4 image the tree needs, computed from the tree alone (so the
 * image size is reproducible): file blocks, extent index blocks, directory
 * blocks, long symlinks and xattr blocks, plus inode tables and per-group
 * metadata, plus a margin for what this estimate leaves out (allocation
 * slack, directory growth, the root and lost+found).
 */
import type { Inode } from '../tree/inode.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';

export const EXT4_BLOCK_SIZE = 4096;
export const EXT4_INODE_SIZE = 256;
const BLOCKS_PER_GROUP = 32768;
/** Longest ext4 extent (blocks) and extents per index block. */
const EXTENT_MAX_BLOCKS = 32768;
const EXTENTS_PER_BLOCK = 340;
/** Symlink targets shorter than this live in the inode. */
const FAST_SYMLINK_MAX = 60;
/** xattr bytes that fit next to a 256-byte inode's fixed fields. */
const IN_INODE_XATTR_BYTES = 80;
/** Inodes ext4 reserves (1..10) plus lost+found and some slack. */
const RESERVED_INODES = 16;
const MARGIN_BLOCKS = 2048; // 8 MiB

export interface Ext4Geometry {
  /** Image size in bytes (a multiple of 1 MiB). */
  bytes: number;
  /** Inode count to ask mkfs for. */
  inodes: number;
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b);

function xattrBytes(inode: Inode): number {
  let total = 0;
  for (const [name, value] of inode.xattrs) total += 16 + ceilDiv(name.length, 4) * 4 + ceilDiv(value.length, 4) * 4;
  return total;
}

export function ext4Geometry(tree: RootfsTree, extraMarginFactor = 1): Ext4Geometry {
  const seen = new Set<Inode>();
  let blocks = 0;
  for (const { node } of tree.walk()) {
    const inode = node.inode;
    if (node.children) {
      let bytes = 24; // '.' and '..'
      for (const name of node.children.keys()) bytes += 8 + ceilDiv(name.length, 4) * 4;
      // Entries are packed block by block; a fifth more covers the tails.
      blocks += ceilDiv(bytes * 1.2, EXT4_BLOCK_SIZE);
    }
    if (seen.has(inode)) continue;
    seen.add(inode);
    if (inode.kind === 'file') {
      const data = ceilDiv(inode.size, EXT4_BLOCK_SIZE);
      const extents = ceilDiv(data, EXTENT_MAX_BLOCKS);
      blocks += data + (extents > 4 ? ceilDiv(extents, EXTENTS_PER_BLOCK) : 0);
    } else if (inode.kind === 'symlink' && inode.target.length >= FAST_SYMLINK_MAX) {
      blocks += 1;
    }
    if (xattrBytes(inode) > IN_INODE_XATTR_BYTES) blocks += ceilDiv(xattrBytes(inode), EXT4_BLOCK_SIZE);
  }
  const inodes = seen.size + RESERVED_INODES;
  const inodeTable = ceilDiv(inodes * EXT4_INODE_SIZE, EXT4_BLOCK_SIZE);
  const groups = ceilDiv(blocks + inodeTable, BLOCKS_PER_GROUP);
  // Block and inode bitmaps, group descriptors and superblock backups.
  const groupMeta = groups * 4;
  const total = blocks + inodeTable + groupMeta;
  const withMargin = Math.ceil((total + ceilDiv(total, 50) + MARGIN_BLOCKS) * extraMarginFactor);
  const mib = ceilDiv(withMargin * EXT4_BLOCK_SIZE, 1024 * 1024);
  return { bytes: mib * 1024 * 1024, inodes };
}
