/**
 * The initramfs as newc bytes: the merged tree in a fixed order, so the same tree always gives the same archive.
 */
import { makeMode } from '../cpio/file-mode.ts';
import { writeNewc, type NewcEntry } from '../cpio/newc-writer.ts';
import type { Inode } from '../tree/inode.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';

export interface AssembleOptions {
  /** Clamp every mtime to this (SOURCE_DATE_EPOCH), for reproducible archives. */
  sourceDateEpoch?: number;
}

/** Names per inode, so hardlinked files get the right nlink. */
function countLinks(tree: RootfsTree): Map<Inode, number> {
  const counts = new Map<Inode, number>();
  for (const { node } of tree.walk()) if (!node.children) counts.set(node.inode, (counts.get(node.inode) ?? 0) + 1);
  return counts;
}

/**
 * The tree as newc entries in a fixed order: depth-first, names in byte order,
 * so parents come before children and the same tree always gives the same
 * bytes. Inode numbers are assigned in that order; the first name of a
 * hardlinked inode carries the data (what the kernel's unpacker wants).
 */
export function* treeEntries(tree: RootfsTree, opts: AssembleOptions = {}): Generator<NewcEntry> {
  const links = countLinks(tree);
  const inos = new Map<Inode, number>();
  const clamp = (t: number) => {
    const nonNegative = Math.max(0, Math.trunc(t));
    return opts.sourceDateEpoch === undefined ? nonNegative : Math.min(nonNegative, opts.sourceDateEpoch);
  };
  let nextIno = 1;
  for (const { path, node } of tree.walk()) {
    const inode = node.inode;
    const first = !inos.has(inode);
    if (first) inos.set(inode, nextIno++);
    const nlink = node.children ? 2 : links.get(inode)!;
    let body: Buffer[] | undefined;
    let filesize = 0;
    if (inode.kind === 'file' && first) {
      body = inode.content;
      filesize = inode.size;
    } else if (inode.kind === 'symlink') {
      body = [Buffer.from(inode.target, 'latin1')];
      filesize = body[0].length;
    }
    yield {
      name: path === '' ? '.' : path,
      header: {
        ino: inos.get(inode)!,
        mode: makeMode(inode.kind, inode.mode),
        uid: inode.uid,
        gid: inode.gid,
        nlink,
        mtime: clamp(inode.mtime),
        filesize,
        devmajor: 0,
        devminor: 0,
        rdevmajor: inode.devmajor,
        rdevminor: inode.devminor,
      },
      body,
    };
  }
}

/** The whole initramfs as an uncompressed newc byte stream. */
export function assembleInitramfs(tree: RootfsTree, opts: AssembleOptions = {}): AsyncGenerator<Buffer> {
  return writeNewc(treeEntries(tree, opts));
}
