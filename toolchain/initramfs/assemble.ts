/**
 * The initramfs as newc bytes: the merged tree in a fixed order, so the same
 * tree always gives the same archive, handed out in large blocks (what a
 * compressor wants) with file contents read straight into them from where
 * the tree says they are (tree/content.ts): memory stays flat whatever the
 * image's size.
 */
import { makeMode } from '../cpio/file-mode.ts';
import type { CpioHeader } from '../cpio/newc-header.ts';
import { NewcWriter } from '../cpio/newc-writer.ts';
import type { ByteString } from '../paths/byte-string.ts';
import { ContentReader } from '../tree/content.ts';
import type { Inode } from '../tree/inode.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';

export interface AssembleOptions {
  /** Clamp every mtime to this (SOURCE_DATE_EPOCH), for reproducible archives. */
  sourceDateEpoch?: number;
}

/** Size of the blocks handed to the compressor. */
export const ASSEMBLE_BLOCK = 1 << 20;

/** One archive entry: its header, and the inode whose bytes follow it (files: the first name only; symlinks: the target). */
export interface TreeEntry {
  name: ByteString;
  header: CpioHeader;
  inode: Inode;
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
export function* treeEntries(tree: RootfsTree, opts: AssembleOptions = {}): Generator<TreeEntry> {
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
    let filesize = 0;
    if (inode.kind === 'file' && first) filesize = inode.size;
    else if (inode.kind === 'symlink') filesize = Buffer.byteLength(inode.target, 'latin1');
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
      inode,
    };
  }
}

/** Fills fixed-size blocks; a full block is taken and a fresh one started. */
class BlockFiller {
  private block = Buffer.allocUnsafe(ASSEMBLE_BLOCK);
  used = 0;
  readonly full: Buffer[] = [];

  put(bytes: Buffer): void {
    for (let at = 0; at < bytes.length; ) {
      const n = bytes.copy(this.block, this.used, at);
      at += n;
      this.advance(n);
    }
  }

  /** The free part of the current block, for writing into directly. */
  room(): { block: Buffer; offset: number; length: number } {
    return { block: this.block, offset: this.used, length: ASSEMBLE_BLOCK - this.used };
  }

  advance(n: number): void {
    this.used += n;
    if (this.used === ASSEMBLE_BLOCK) {
      this.full.push(this.block);
      this.block = Buffer.allocUnsafe(ASSEMBLE_BLOCK);
      this.used = 0;
    }
  }

  rest(): Buffer {
    return this.block.subarray(0, this.used);
  }
}

/** One entry's bytes into the blocks: header and name, body read in place, padding. */
function putEntry(out: BlockFiller, writer: NewcWriter, reader: ContentReader, { name, header, inode }: TreeEntry): void {
  out.put(writer.entry(header, name));
  if (inode.kind === 'symlink') {
    out.put(writer.body(Buffer.from(inode.target, 'latin1')));
  } else if (header.filesize > 0) {
    for (let at = 0; at < header.filesize; ) {
      const { block, offset, length } = out.room();
      const n = Math.min(length, header.filesize - at);
      reader.readInto(inode, at, block, offset, n);
      writer.body(block.subarray(offset, offset + n));
      out.advance(n);
      at += n;
    }
  }
  out.put(writer.endBody());
}

/** The whole initramfs as an uncompressed newc byte stream, in blocks of ASSEMBLE_BLOCK bytes (the last one shorter). */
export async function* assembleInitramfs(tree: RootfsTree, opts: AssembleOptions = {}): AsyncGenerator<Buffer> {
  const reader = new ContentReader();
  const writer = new NewcWriter();
  const out = new BlockFiller();
  try {
    for (const entry of treeEntries(tree, opts)) {
      putEntry(out, writer, reader, entry);
      while (out.full.length > 0) yield out.full.shift()!;
    }
    out.put(writer.trailer());
    while (out.full.length > 0) yield out.full.shift()!;
    if (out.used > 0) yield out.rest();
  } finally {
    reader.close();
  }
}
