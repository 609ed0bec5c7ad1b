/**
 * Inodes and tree nodes: file metadata as the guest will see it, and where the
 * content is (in memory, or a range of a spill file read back by tree/content.ts).
 */
import type { ByteString } from '../paths/byte-string.ts';

export type InodeKind = 'file' | 'directory' | 'symlink' | 'chardev' | 'blockdev' | 'fifo';

/**
 * File metadata and content as the guest will see it. Hardlinked names share
 * one Inode object; replacing a path later gives it a new Inode, so earlier
 * links keep the content they had (as on a real filesystem).
 */
export interface Inode {
  kind: InodeKind;
  /** Permission bits incl. setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  xattrs: Map<string, Buffer>;
  /** Regular files held in memory (HyperStart's own files, small trees in tests): the content chunks. */
  content: Buffer[];
  /** Regular files from image layers in a build: the bytes are here, and `content` is empty. */
  spill?: SpillRange;
  size: number;
  /** Symlinks: the target, verbatim; never followed on the host. */
  target: ByteString;
  devmajor: number;
  devminor: number;
}

/** `size` bytes of an inode's content start at `offset` of the spill file at `path`. */
export interface SpillRange {
  /** Shared by every range of one spill file (one string per layer, not per file). */
  readonly path: string;
  readonly offset: number;
  /** What the spill file holds, the same in every build (a layer's diff_id); without it, nothing built from it is reused. */
  readonly source?: string;
}

/** A name in the tree. Directories own their children; other nodes point at a shared Inode. */
export interface TreeNode {
  inode: Inode;
  children: Map<ByteString, TreeNode> | null;
  /** Index of the layer that last wrote this node (whiteouts only hide lower layers). */
  layer: number;
}

export function newInode(kind: InodeKind, init: Partial<Inode> = {}): Inode {
  return {
    kind,
    mode: kind === 'directory' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    mtime: 0,
    xattrs: new Map(),
    content: [],
    size: 0,
    target: '',
    devmajor: 0,
    devminor: 0,
    ...init,
  };
}

export function newDirNode(layer: number, init: Partial<Inode> = {}): TreeNode {
  return { inode: newInode('directory', init), children: new Map(), layer };
}
