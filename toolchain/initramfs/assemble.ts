/**
 * The initramfs's layout: the merged tree as newc entries in a fixed order,
 * so the same tree always gives the same archive, checked once by the newc
 * writer, and cut into pieces at content-defined entry boundaries. A piece
 * carries a key naming exactly what it is made of (headers, padding, and
 * the identity of each file's content), so a piece of an earlier build with
 * the same key has the same bytes and can be reused compressed
 * (pipeline/write-initramfs.ts). piece-writer.ts turns pieces into bytes.
 */
import { createHash } from 'node:crypto';
import { makeMode } from '../cpio/file-mode.ts';
import type { CpioHeader } from '../cpio/newc-header.ts';
import { NewcWriter } from '../cpio/newc-writer.ts';
import type { ByteString } from '../paths/byte-string.ts';
import type { Inode } from '../tree/inode.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';

export interface AssembleOptions {
  /** Clamp every mtime to this (SOURCE_DATE_EPOCH), for reproducible archives. */
  sourceDateEpoch?: number;
}

/** A piece ends after an entry with a probability of its size over this (so pieces average about this much). */
export const PIECE_TARGET = 4 << 20;
/** ...and always once it has this much. */
export const PIECE_MAX = 32 << 20;
/** Names the piece format in every key: bump it when the bytes a key stands for change. */
const PIECE_KEY_VERSION = 'hyperbuild initramfs piece 1';

/** One archive entry: its header, and the inode whose bytes follow it (files: the first name only; symlinks: the target). */
export interface TreeEntry {
  name: ByteString;
  header: CpioHeader;
  inode: Inode;
}

/** What the kernel's unpacker hard-links (maybe_link); directories and symlinks never are. */
const LINKABLE_KINDS: ReadonlySet<Inode['kind']> = new Set(['file', 'chardev', 'blockdev', 'fifo']);
/** Numbers from paths start here; hardlinked inodes are numbered below. */
const PATH_INO_BASE = 2 ** 31;

/** Names per inode, so hardlinked files get the right nlink (any order will do: no paths, no sorting). */
function countLinks(tree: RootfsTree): Map<Inode, number> {
  const counts = new Map<Inode, number>();
  const dirs = [tree.root];
  while (dirs.length > 0) {
    for (const node of dirs.pop()!.children!.values()) {
      if (node.children) dirs.push(node);
      else counts.set(node.inode, (counts.get(node.inode) ?? 0) + 1);
    }
  }
  return counts;
}

/**
 * The tree as newc entries in a fixed order: depth-first, names in byte order,
 * so parents come before children and the same tree always gives the same
 * bytes. The first name of a hardlinked inode carries the data (what the
 * kernel's unpacker wants).
 *
 * Inode numbers matter to the unpacker only for hardlinks (maybe_link: a
 * file or device with nlink >= 2 whose number it has seen is linked), so
 * hardlinked inodes are numbered 1, 2, 3… in walk order and every other
 * entry takes a number from its path, above 2^31 so it can never meet a
 * hardlinked one. A file added early in the tree then changes no other
 * entry's header, and the pieces after it stay the same (pipeline/write-initramfs.ts).
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
    const nlink = node.children ? 2 : links.get(inode)!;
    const first = !inos.has(inode);
    if (first) inos.set(inode, nlink >= 2 && LINKABLE_KINDS.has(inode.kind) ? nextIno++ : PATH_INO_BASE + (nameHash(path) % PATH_INO_BASE));
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

/** One entry of a piece: header and name with their padding, the inode whose bytes follow, the padding after them. */
export interface PieceEntry {
  head: Buffer;
  inode: Inode;
  bodySize: number;
  pad: Buffer;
}

/** A run of whole entries (the last piece ends with the trailer). */
export interface ArchivePiece {
  /** sha256 (hex) of what the piece is made of; undefined when some content has no stable identity (it is never reused). */
  key: string | undefined;
  /** Uncompressed bytes. */
  size: number;
  entries: PieceEntry[];
  /** The trailer and the archive's final padding, in the last piece. */
  tail?: Buffer;
}

/** FNV-1a of a name: the piece cut's coin, so cuts depend on the entries themselves and resynchronise right after a change. */
function nameHash(name: ByteString): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** What names an inode's bytes in a key: the layer content and range for spilled files, a digest for files in memory. */
function contentIdentity(inode: Inode, size: number): string | undefined {
  if (inode.kind === 'symlink') return `symlink:${Buffer.from(inode.target, 'latin1').toString('hex')}`;
  if (size === 0) return '';
  if (inode.spill) return inode.spill.source === undefined ? undefined : `spill:${inode.spill.source}:${inode.spill.offset}:${size}`;
  const h = createHash('sha256');
  for (const c of inode.content) h.update(c);
  return `bytes:${h.digest('hex')}`;
}

/** Collects entries until a cut, with the key of what it holds. */
class PieceBuilder {
  private hash = createHash('sha256').update(PIECE_KEY_VERSION);
  private stable = true;
  entries: PieceEntry[] = [];
  size = 0;

  add(e: PieceEntry): void {
    const identity = contentIdentity(e.inode, e.bodySize);
    if (identity === undefined) this.stable = false;
    this.hash.update(e.head).update(`${identity ?? ''}\n`).update(e.pad);
    this.entries.push(e);
    this.size += e.head.length + e.bodySize + e.pad.length;
  }

  take(tail?: Buffer): ArchivePiece {
    if (tail) {
      this.hash.update('trailer').update(tail);
      this.size += tail.length;
    }
    const piece: ArchivePiece = { key: this.stable ? this.hash.digest('hex') : undefined, size: this.size, entries: this.entries, ...(tail ? { tail } : {}) };
    this.hash = createHash('sha256').update(PIECE_KEY_VERSION);
    this.stable = true;
    this.entries = [];
    this.size = 0;
    return piece;
  }
}

/**
 * The archive as pieces, in order, from metadata alone (no content is read):
 * every entry goes through one newc writer, which checks it and gives its
 * header and padding. A piece ends after an entry of B bytes with
 * probability B / PIECE_TARGET (decided by the entry's name), or at PIECE_MAX.
 */
export function* planPieces(tree: RootfsTree, opts: AssembleOptions = {}): Generator<ArchivePiece> {
  const writer = new NewcWriter();
  const piece = new PieceBuilder();
  for (const { name, header, inode } of treeEntries(tree, opts)) {
    const head = writer.entry(header, name);
    writer.skipBody(header.filesize);
    const pad = writer.endBody();
    piece.add({ head, inode, bodySize: header.filesize, pad });
    const bytes = head.length + header.filesize + pad.length;
    if (nameHash(name) < (bytes / PIECE_TARGET) * 2 ** 32 || piece.size >= PIECE_MAX) yield piece.take();
  }
  yield piece.take(writer.trailer());
}
