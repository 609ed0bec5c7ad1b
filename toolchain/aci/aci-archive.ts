/**
 * Reading one ACI file: a tar (plain, gzip, bzip2 or xz, told apart by
 * magic, never by name) whose only top-level names are `manifest` (a file)
 * and `rootfs` (a directory). Anything else at the top is refused by name:
 * the spec says such archives are invalid, and silently dropping files
 * would hide a packaging mistake.
 *
 * Paths go through pathComponents first, so `rootfs/../x` is judged as the
 * top-level `x` it really is and `..` above the archive root is refused.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { BadInputError } from '../errors/errors.ts';
import { sniffCompression } from '../compress/detect.ts';
import { gzipDecompress } from '../compress/gzip.ts';
import { spawnFilter } from '../compress/spawn-filter.ts';
import { displayPath, type ByteString } from '../paths/byte-string.ts';
import { readTar, type TarMember } from '../tar/reader.ts';
import { pathComponents } from '../tree/rootfs-tree.ts';
import { MAX_ACI_MANIFEST_BYTES, parseAciManifest, type AciManifest } from './image-manifest.ts';

export interface ScannedAci {
  /** Host path of the .aci file. */
  path: string;
  /** Names the ACI in progress lines and errors. */
  label: string;
  manifest: AciManifest;
  manifestBytes: Buffer;
  /** `sha256:` of the .aci file as stored (compressed or not). */
  fileDigest: string;
  /** appc image ID: `sha512-` of the uncompressed tar. */
  imageId: string;
  /** Bytes of the .aci file. */
  size: number;
}

const WHITEOUT_PREFIX = '.wh.';

type Compression = 'none' | 'gzip' | 'bzip2' | 'xz';

/** The compressions the ACI spec allows; any other is read as plain (the tar reader then says what is wrong). */
function compressionOf(head: Buffer): Compression {
  const kind = sniffCompression(head);
  return kind === 'gzip' || kind === 'bzip2' || kind === 'xz' ? kind : 'none';
}

async function* tap(source: AsyncIterable<Buffer>, onChunk: (b: Buffer) => void): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    onChunk(chunk);
    yield chunk;
  }
}

/** The uncompressed tar bytes of an ACI file, with hooks that see the stored and the uncompressed bytes. */
async function* tarBytes(path: string, label: string, onStored?: (b: Buffer) => void, onTar?: (b: Buffer) => void): AsyncGenerator<Buffer> {
  let file: AsyncIterable<Buffer>;
  try {
    file = createReadStream(path) as AsyncIterable<Buffer>;
    const it = file[Symbol.asyncIterator]();
    const first = await it.next();
    const head: Buffer = first.done ? Buffer.alloc(0) : first.value;
    const rest = async function* () {
      if (head.length) yield head;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value as Buffer;
    };
    const stored = tap(rest(), (b) => onStored?.(b));
    const fail = (detail: string) => new BadInputError(`${label}: cannot decompress: ${detail}`);
    let tar: AsyncIterable<Buffer>;
    switch (compressionOf(head)) {
      case 'none':
        tar = stored;
        break;
      case 'gzip':
        tar = gzipDecompress(stored, label);
        break;
      case 'bzip2':
        tar = spawnFilter({ command: 'bzip2', args: ['-dc'], debianPackage: 'bzip2' }, stored, fail);
        break;
      case 'xz':
        tar = spawnFilter({ command: 'xz', args: ['-dc'], debianPackage: 'xz-utils' }, stored, fail);
        break;
    }
    yield* tap(tar, (b) => onTar?.(b));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') {
      throw new BadInputError(`${label}: cannot read ${path} (${(err as NodeJS.ErrnoException).code})`);
    }
    throw err;
  }
}

type Place = { kind: 'manifest' } | { kind: 'rootfs-dir' } | { kind: 'rootfs'; path: ByteString } | { kind: 'archive-root' };

/** Where a member sits in the ACI layout, refusing anything outside it. */
function placeOf(entryPath: ByteString, type: string, label: string): Place {
  const what = `${label} entry '${displayPath(entryPath)}'`;
  const parts = pathComponents(entryPath, what);
  if (parts.length === 0) {
    if (type !== 'directory') throw new BadInputError(`${what}: the archive root must be a directory`);
    return { kind: 'archive-root' };
  }
  if (parts[0] === 'manifest' && parts.length === 1) {
    if (type !== 'file') throw new BadInputError(`${what}: 'manifest' must be a regular file, not a ${type}`);
    return { kind: 'manifest' };
  }
  if (parts[0] === 'rootfs') {
    if (parts.length === 1) {
      if (type !== 'directory') throw new BadInputError(`${what}: 'rootfs' must be a directory, not a ${type}`);
      return { kind: 'rootfs-dir' };
    }
    return { kind: 'rootfs', path: parts.slice(1).join('/') };
  }
  throw new BadInputError(`${label}: '${displayPath(parts[0])}' at the top of the archive; an ACI holds only 'manifest' and 'rootfs'`, {
    hint: 'rebuild the ACI with just manifest and rootfs/ at its top level',
  });
}

/** Reads the whole ACI once: checks the layout, parses the manifest, computes the file digest and image ID. */
export async function scanAci(path: string): Promise<ScannedAci> {
  const label = `ACI ${basename(path)}`;
  const sha256 = createHash('sha256');
  const sha512 = createHash('sha512');
  let size = 0;
  let manifestBytes: Buffer | undefined;
  let sawRootfs = false;
  const tar = tarBytes(path, label, (b) => {
    sha256.update(b);
    size += b.length;
  }, (b) => sha512.update(b));
  for await (const { entry, body } of readTar(tar, label, { requireEnd: true })) {
    const place = placeOf(entry.path, entry.type, label);
    if (place.kind === 'rootfs' || place.kind === 'rootfs-dir') sawRootfs = true;
    if (place.kind !== 'manifest') continue;
    if (manifestBytes) throw new BadInputError(`${label}: two 'manifest' entries`);
    if (entry.size > MAX_ACI_MANIFEST_BYTES) throw new BadInputError(`${label}: manifest is ${entry.size} bytes; not a real ACI manifest`);
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c);
    manifestBytes = Buffer.concat(chunks);
  }
  if (!manifestBytes) throw new BadInputError(`${label}: no 'manifest' at the top of the archive`, { hint: 'is this an ACI (appc image)?' });
  if (!sawRootfs) throw new BadInputError(`${label}: no 'rootfs' directory at the top of the archive`);
  const manifest = parseAciManifest(manifestBytes, `${label} manifest`);
  return { path, label, manifest, manifestBytes, fileDigest: `sha256:${sha256.digest('hex')}`, imageId: `sha512-${sha512.digest('hex')}`, size };
}

/**
 * The rootfs members as a layer: `rootfs/` is stripped from names and from
 * hardlink targets; `manifest` and `rootfs` itself are skipped. `keep` sees
 * the stripped path (byte string, no leading '/') and may drop a member.
 */
export async function* aciRootfsMembers(path: string, label: string, keep: (path: ByteString, type: string) => boolean = () => true): AsyncGenerator<TarMember> {
  for await (const member of readTar(tarBytes(path, label), label, { requireEnd: true })) {
    const { entry } = member;
    const place = placeOf(entry.path, entry.type, label);
    if (place.kind !== 'rootfs') continue;
    let linkname = entry.linkname;
    if (entry.type === 'hardlink') {
      const what = `${label} entry '${displayPath(entry.path)}' link target`;
      const target = pathComponents(entry.linkname, what);
      if (target[0] !== 'rootfs' || target.length < 2) {
        throw new BadInputError(`${what}: '${displayPath(entry.linkname)}' is outside rootfs/`);
      }
      linkname = target.slice(1).join('/');
    }
    const base = place.path.slice(place.path.lastIndexOf('/') + 1);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      // appc has no whiteouts; applyLayer would read this name as one and delete a dependency's file.
      throw new BadInputError(`${label} entry '${displayPath(entry.path)}': '${WHITEOUT_PREFIX}' names are OCI whiteouts, which an ACI cannot carry`);
    }
    if (!keep(place.path, entry.type)) continue;
    yield { entry: { ...entry, path: place.path, linkname }, body: member.body };
  }
}

/** Owner of each wanted rootfs path (stripped, no leading '/') as this ACI stores it; the last entry for a path wins. */
export async function aciOwners(path: string, label: string, wanted: Set<ByteString>): Promise<Map<ByteString, { uid: number; gid: number; type: string }>> {
  const out = new Map<ByteString, { uid: number; gid: number; type: string }>();
  for await (const { entry } of aciRootfsMembers(path, label, (p) => wanted.has(p))) out.set(entry.path, { uid: entry.uid, gid: entry.gid, type: entry.type });
  return out;
}
