/**
 * Applying one image layer to the merged tree with OCI semantics: whiteouts, opaque
 * directories, hardlinks, type changes, and the size limit that bounds decompression bombs.
 */
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import { Hints } from '../errors/hints.ts';
import type { ByteString } from '../paths/byte-string.ts';
import type { TarEntry } from '../tar/entry.ts';
import type { TarMember } from '../tar/reader.ts';
import { NEWC_TRAILER_NAME as CPIO_TRAILER_NAME } from '../cpio/newc-header.ts';
import { newInode, type Inode, type SpillRange, type TreeNode } from './inode.ts';
import { RootfsTree, pathComponents, shownPath } from './rootfs-tree.ts';

const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';
/** Top-level names that belong to hyperbuild inside the guest. */
export const RESERVED_TOP_LEVEL = '.hyperstart';

/** Files at or below this size are copied out of the reader's chunks so small files do not pin large buffers. */
const COMPACT_BELOW = 1 << 20;

export interface LayerLimits {
  /** Total file bytes all layers may write; bounds decompression bombs. */
  maxBytes: number;
  /** Running total, shared across layers. */
  bytesSoFar: number;
}

/** One layer entry with its content already placed: in memory, or in a spill file (a decoded layer). */
export interface PlacedEntry {
  entry: TarEntry;
  content?: Buffer[];
  spill?: SpillRange;
}

interface Member {
  entry: TarEntry;
  components: ByteString[];
  content: Buffer[];
  spill?: SpillRange;
}

/** Linux's limits (PATH_MAX and NAME_MAX less the NUL): longer names cannot be created or opened in the guest. */
export const MAX_PATH_BYTES = 4095;
export const MAX_NAME_BYTES = 255;
/** uid_t and gid_t are 32 bits. */
const MAX_ID = 0xffff_ffff;
/** Linux's dev_t: a 12-bit major and a 20-bit minor number. */
const MAX_DEV_MAJOR = 4095;
const MAX_DEV_MINOR = 1_048_575;

/** Names and link targets no Linux root filesystem can hold, refused while the layer and entry are known. */
function checkLinuxLimits(entry: TarEntry, components: ByteString[], what: string): void {
  const length = components.reduce((n, c) => n + c.length + 1, 0);
  if (length > MAX_PATH_BYTES) {
    throw new BadInputError(`${what}: its absolute path is ${length} bytes, more than Linux's ${MAX_PATH_BYTES} (PATH_MAX)`, { hint: Hints.layer });
  }
  const long = components.find((c) => c.length > MAX_NAME_BYTES);
  if (long) throw new BadInputError(`${what}: a name on the path is ${long.length} bytes, more than Linux's ${MAX_NAME_BYTES} (NAME_MAX)`, { hint: Hints.layer });
  if (entry.uid > MAX_ID || entry.gid > MAX_ID) {
    throw new BadInputError(`${what}: owner ${entry.uid}:${entry.gid} is out of Linux's 32-bit uid/gid range`, { hint: Hints.layer });
  }
  if ((entry.type === 'chardev' || entry.type === 'blockdev') && (entry.devmajor > MAX_DEV_MAJOR || entry.devminor > MAX_DEV_MINOR)) {
    throw new BadInputError(`${what}: device ${entry.devmajor}:${entry.devminor} is out of Linux's range (major up to ${MAX_DEV_MAJOR}, minor up to ${MAX_DEV_MINOR})`, { hint: Hints.layer });
  }
  if (entry.type === 'symlink' && (entry.linkname.length === 0 || entry.linkname.length > MAX_PATH_BYTES)) {
    throw new BadInputError(`${what}: the symlink target is ${entry.linkname.length} bytes; Linux needs 1 to ${MAX_PATH_BYTES}`, { hint: Hints.layer });
  }
}

/**
 * What every entry must pass before its content is read or placed: a path
 * inside the root and within Linux's limits, no name reserved for hyperbuild,
 * and the size limit. Returns the path's components.
 */
export function checkEntry(entry: TarEntry, label: string, limits: LayerLimits): ByteString[] {
  try {
    return checkedComponents(entry, label, limits);
  } catch (err) {
    throw hinted(err);
  }
}

function checkedComponents(entry: TarEntry, label: string, limits: LayerLimits): ByteString[] {
  const what = `${label} entry '${shownPath(entry.path)}'`;
  const components = pathComponents(entry.path, what);
  checkLinuxLimits(entry, components, what);
  if (components[0] === RESERVED_TOP_LEVEL) {
    throw new BadInputError(`${what}: /${RESERVED_TOP_LEVEL} is reserved for hyperbuild's init and cannot come from an image`);
  }
  if (components.length === 1 && components[0] === CPIO_TRAILER_NAME) {
    throw new BadInputError(`${what}: a root-level file named ${CPIO_TRAILER_NAME} would end the initramfs early (the kernel stops unpacking there)`, {
      hint: 'rename it in the image, or build with a disk root filesystem',
    });
  }
  if (entry.type === 'file') {
    limits.bytesSoFar += entry.size;
    if (limits.bytesSoFar > limits.maxBytes) {
      throw new BadInputError(`the image's files grew past --max-rootfs-size (${limits.maxBytes} bytes) at ${what}`, {
        hint: 'if the image is really this big, raise --max-rootfs-size (and consider --rootfs ext4); otherwise the layer may be a decompression bomb',
      });
    }
  }
  return components;
}

async function collect(members: AsyncIterable<TarMember>, label: string, limits: LayerLimits): Promise<Member[]> {
  const out: Member[] = [];
  for await (const { entry, body } of members) {
    const what = `${label} entry '${shownPath(entry.path)}'`;
    const components = checkEntry(entry, label, limits);
    const content: Buffer[] = [];
    if (entry.type === 'file') {
      let got = 0;
      for await (const chunk of body) {
        content.push(chunk);
        got += chunk.length;
      }
      if (got !== entry.size) throw new BadInputError(`${what}: body has ${got} bytes, header says ${entry.size}`);
      if (entry.size <= COMPACT_BELOW && content.length > 0) content.splice(0, content.length, Buffer.concat(content));
    }
    out.push({ entry, components, content });
  }
  return out;
}

function inodeFrom(m: Member): Inode {
  const e = m.entry;
  const kind = e.type === 'hardlink' ? 'file' : e.type;
  return newInode(kind, {
    mode: e.mode & 0o7777,
    uid: e.uid,
    gid: e.gid,
    mtime: e.mtime,
    xattrs: e.xattrs,
    content: m.content,
    ...(m.spill && kind === 'file' ? { spill: m.spill } : {}),
    size: kind === 'file' ? e.size : 0,
    target: kind === 'symlink' ? e.linkname : '',
    devmajor: e.devmajor,
    devminor: e.devminor,
  });
}

/** Apply one layer, read from its tar members (contents are kept in memory: for small trees and tests). */
export async function applyLayer(tree: RootfsTree, members: AsyncIterable<TarMember>, layer: number, label: string, limits: LayerLimits): Promise<void> {
  try {
    applyMembers(tree, await collect(members, label, limits), layer, label);
  } catch (err) {
    throw hinted(err);
  }
}

/** Errors about a layer's entries carry the layer hint unless their throw site gave a better one. */
function hinted(err: unknown): unknown {
  return err instanceof HyperbuildError ? err.withHint(Hints.layer) : err;
}

/** Apply one layer whose contents are already placed (a decoded layer's entries, in archive order). */
export function applyPlacedLayer(tree: RootfsTree, entries: Iterable<PlacedEntry>, layer: number, label: string, limits: LayerLimits): void {
  try {
    const list: Member[] = [];
    for (const e of entries) list.push({ entry: e.entry, components: checkEntry(e.entry, label, limits), content: e.content ?? [], spill: e.spill });
    applyMembers(tree, list, layer, label);
  } catch (err) {
    throw hinted(err);
  }
}

/**
 * A whiteout is `.wh.` plus the basename it deletes (the image spec's layer
 * rules), so `.wh.`, `.wh..` and `.wh...` name nothing a layer could delete
 * and are refused. Its type and contents are not checked (the spec says
 * "an empty file"; appliers such as containerd's look only at the name).
 */
function checkWhiteoutName(base: ByteString, what: string): void {
  const victim = base.slice(WHITEOUT_PREFIX.length);
  if (victim === '' || victim === '.' || victim === '..') {
    throw new BadInputError(`${what}: a whiteout must name the file it deletes ('.wh.' + its name), not '${victim}'`, { hint: Hints.layer });
  }
}

/**
 * Apply one layer to the tree with OCI semantics. Whiteouts are applied first,
 * against lower layers only (the spec: a whiteout never hides a file of its own
 * layer), then the layer's entries in archive order.
 */
function applyMembers(tree: RootfsTree, list: Member[], layer: number, label: string): void {
  const regular: Member[] = [];
  for (const m of list) {
    const base = m.components[m.components.length - 1] ?? '';
    if (!base.startsWith(WHITEOUT_PREFIX)) {
      regular.push(m);
      continue;
    }
    const what = `${label} whiteout '${shownPath(m.entry.path)}'`;
    checkWhiteoutName(base, what);
    const dirComponents = m.components.slice(0, -1);
    const dir = tree.lookup(dirComponents, what);
    if (!dir?.children) continue;
    if (base === OPAQUE_MARKER) {
      for (const [name, child] of dir.children) if (child.layer < layer) dir.children.delete(name);
    } else if (!base.startsWith('.wh..wh.')) {
      const victim = base.slice(WHITEOUT_PREFIX.length);
      const hidden = dir.children.get(victim);
      if (hidden && hidden.layer < layer) dir.children.delete(victim);
    }
    // Other `.wh..wh.*` names are AUFS bookkeeping (e.g. .wh..wh.plnk); they carry nothing.
  }

  for (const m of regular) {
    const what = `${label} entry '${shownPath(m.entry.path)}'`;
    if (m.components.length === 0) {
      if (m.entry.type !== 'directory') throw new BadInputError(`${what}: the root must be a directory`);
      Object.assign(tree.root.inode, { ...inodeFrom(m), kind: 'directory' });
      continue;
    }
    const parent = tree.parentOf(m.components, what, { layer, mtime: m.entry.mtime })!;
    const name = m.components[m.components.length - 1];
    const existing = parent.children!.get(name);
    let node: TreeNode;
    if (m.entry.type === 'directory') {
      if (existing?.children) {
        // Re-declaring a directory updates its metadata and keeps its contents.
        existing.inode = inodeFrom(m);
        existing.layer = layer;
        continue;
      }
      node = { inode: inodeFrom(m), children: new Map(), layer };
    } else if (m.entry.type === 'hardlink') {
      const targetComponents = pathComponents(m.entry.linkname, `${what} link target`);
      const target = tree.lookup(targetComponents, `${what} link target`);
      if (!target) throw new BadInputError(`${what}: hardlink target '${shownPath(m.entry.linkname)}' does not exist in the image`);
      if (target.children) throw new BadInputError(`${what}: hardlink target '${shownPath(m.entry.linkname)}' is a directory`);
      if (target === existing) continue;
      node = { inode: target.inode, children: null, layer };
    } else {
      node = { inode: inodeFrom(m), children: null, layer };
    }
    parent.children!.set(name, node);
  }
}
