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

/** Fills blocks taken from a pool; each full block is set aside for the writer, and the next is taken only when needed. */
class BlockFiller {
  private block: Buffer | undefined;
  used = 0;
  readonly full: Buffer[] = [];

  constructor(private readonly take: () => Buffer) {}

  put(bytes: Buffer): void {
    for (let at = 0; at < bytes.length; ) {
      const { block, offset } = this.room();
      const n = bytes.copy(block, offset, at);
      at += n;
      this.advance(n);
    }
  }

  /** The free part of the current block, for writing into directly. */
  room(): { block: Buffer; offset: number; length: number } {
    this.block ??= this.take();
    return { block: this.block, offset: this.used, length: ASSEMBLE_BLOCK - this.used };
  }

  advance(n: number): void {
    this.used += n;
    if (this.used === ASSEMBLE_BLOCK) {
      this.full.push(this.block!);
      this.block = undefined;
      this.used = 0;
    }
  }

  rest(): Buffer | undefined {
    return this.used > 0 ? this.block!.subarray(0, this.used) : undefined;
  }
}

/** One entry's bytes into the blocks (header and name, body read in place, padding), handing out each block as it fills. */
function* putEntry(out: BlockFiller, writer: NewcWriter, reader: ContentReader, { name, header, inode }: TreeEntry): Generator<Buffer> {
  out.put(writer.entry(header, name));
  while (out.full.length > 0) yield out.full.shift()!;
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
      while (out.full.length > 0) yield out.full.shift()!;
    }
  }
  out.put(writer.endBody());
  while (out.full.length > 0) yield out.full.shift()!;
}

/** Where the archive goes: `write` resolves when the block may be filled again (compress/file-sink.ts). */
export interface BlockSink {
  write(block: Buffer): Promise<void>;
}

/** Blocks the writer cycles through: up to four with the sink (compressing, or in a pipe), two ready to fill. */
const POOL_BLOCKS = 6;
/** A header, name or padding (a few KiB at most) can finish one block and start the next in one go: keep two free. */
const KEEP_FREE = 2;

/**
 * Write the whole initramfs (uncompressed newc) into `sink` in blocks of
 * ASSEMBLE_BLOCK bytes (the last one shorter), cycling POOL_BLOCKS buffers:
 * memory stays the same whatever the tree holds. Returns the archive's size.
 */
export async function assembleInto(tree: RootfsTree, sink: BlockSink, opts: AssembleOptions = {}): Promise<number> {
  const free: Buffer[] = Array.from({ length: POOL_BLOCKS }, () => Buffer.allocUnsafe(ASSEMBLE_BLOCK));
  const busy: Promise<Buffer>[] = [];
  const reader = new ContentReader();
  const writer = new NewcWriter();
  const out = new BlockFiller(() => free.pop()!);
  const send = async (block: Buffer) => {
    const given = sink.write(block).then(() => block);
    given.catch(() => undefined);
    busy.push(given);
    while (free.length < KEEP_FREE) free.push(await busy.shift()!);
  };
  try {
    for (const entry of treeEntries(tree, opts)) for (const block of putEntry(out, writer, reader, entry)) await send(block);
    out.put(writer.trailer());
    for (const block of out.full.splice(0)) await send(block);
    const rest = out.rest();
    if (rest) await send(rest);
    await Promise.all(busy);
  } finally {
    reader.close();
  }
  return writer.offset;
}
