/**
 * Compressed initramfs pieces kept between builds (initramfs/assemble.ts
 * cuts the archive into pieces and names each by a key), by reference: a
 * piece's compressed bytes stay where a build wrote them, inside the cached
 * initramfs that holds them (`<cache>/initramfs/…`), and its record
 * `<cache>/pieces/<variant>/<key>.json` says where: that file, the offset and
 * length of the bytes, the CRC-32 and size of the uncompressed piece, and the
 * file's stat identity (device, inode, size, mtime and ctime in ns) when the
 * record was written. A record is used only while the file keeps that
 * identity (the layer cache's rule): any write, truncation, rename over or
 * `touch` makes it a miss and the piece is compressed again. So compressed
 * bytes are written once and never hashed or copied to be stored, and a
 * reused piece costs a stat, not a rehash.
 *
 * Records are written atomically once the initramfs is in place; not
 * collected: they stay until the cache directory is removed.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tempPathBeside, writeFileAtomic } from '../fs/atomic.ts';

/** Where a piece's compressed bytes are, and what they stand for. */
export interface PieceRef {
  file: string;
  offset: number;
  length: number;
  /** CRC-32 (gzip pieces; 0 for lz4) and size of the uncompressed piece. */
  crc: number;
  size: number;
}

interface PieceRecord extends PieceRef {
  key: string;
  identity: string;
}

async function identity(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':');
  } catch {
    return undefined;
  }
}

export class PieceCache {
  private readonly root: string;
  /** Identities of the files records point into, looked up once per build (most records point into one file). */
  private readonly identities = new Map<string, Promise<string | undefined>>();

  /** `variant` names the compressor and its settings: pieces of another variant have other records. */
  constructor(cacheDir: string, variant: string) {
    this.root = join(cacheDir, 'pieces', variant);
  }

  private recordPath(key: string): string {
    return join(this.root, `${key}.json`);
  }

  private identity(path: string): Promise<string | undefined> {
    let found = this.identities.get(path);
    if (!found) this.identities.set(path, (found = identity(path)));
    return found;
  }

  /** Where the piece stored under `key` is, while the file holding it is unchanged; else undefined. */
  async lookup(key: string): Promise<PieceRef | undefined> {
    try {
      const r = JSON.parse(await readFile(this.recordPath(key), 'utf8')) as PieceRecord;
      if (r.key !== key || typeof r.file !== 'string' || ![r.offset, r.length, r.crc, r.size].every(Number.isSafeInteger)) return undefined;
      if ((await this.identity(r.file)) !== r.identity) return undefined;
      return { file: r.file, offset: r.offset, length: r.length, crc: r.crc, size: r.size };
    } catch {
      return undefined;
    }
  }

  /** A fresh path in the cache for a piece being compressed (the caller removes it once copied). */
  async scratchPath(): Promise<string> {
    await mkdir(this.root, { recursive: true });
    return tempPathBeside(join(this.root, 'piece'), 'making');
  }

  /** Record that the pieces in `pieces` are in `file` (complete, in place): they are found there from now on. */
  async remember(file: string, pieces: { key: string; offset: number; length: number; crc: number; size: number }[]): Promise<void> {
    const id = await identity(file);
    if (id === undefined || pieces.length === 0) return;
    this.identities.set(file, Promise.resolve(id));
    await Promise.all(pieces.map((p) => writeFileAtomic(this.recordPath(p.key), JSON.stringify({ ...p, file, identity: id } satisfies PieceRecord))));
  }
}
