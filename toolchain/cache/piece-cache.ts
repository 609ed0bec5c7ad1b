/**
 * Compressed initramfs pieces kept between builds (initramfs/assemble.ts
 * cuts the archive into pieces and names each by a key), one file per piece
 * and compressor: `<cache>/pieces/<variant>/<key>`. A file is a 48-byte
 * header, then the compressed bytes (the payload):
 *   'HBP1' | sha256 of the payload (32) | CRC-32 of the uncompressed piece (4, LE) | its size (8, LE)
 * Written to a temp file and renamed into place, so a reader never sees half
 * a piece; the payload digest is checked every time a piece is reused
 * (copyPayload), and a piece that fails it is made again.
 *
 * Not collected: entries stay until the cache directory is removed.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tempPathBeside } from '../fs/atomic.ts';

export const PIECE_HEADER = 48;
const MAGIC = Buffer.from('HBP1');
const COPY_BUFFER = 1 << 20;

export interface CachedPiece {
  path: string;
  /** Compressed bytes after the header. */
  payloadSize: number;
  /** CRC-32 and size of the uncompressed piece. */
  crc: number;
  size: number;
  digest: Buffer;
}

/** Calls `each` on the bytes of `fd` from `from` to its end, in reused 1 MiB buffers; returns the byte count. */
function scan(fd: number, from: number, buffer: Buffer, each: (bytes: Buffer) => void): number {
  let total = 0;
  for (let n; (n = readSync(fd, buffer, 0, buffer.length, from + total)) > 0; total += n) each(buffer.subarray(0, n));
  return total;
}

export class PieceCache {
  private readonly root: string;
  private readonly buffer = Buffer.allocUnsafe(COPY_BUFFER);

  /** `variant` names the compressor and its settings: pieces of another variant are other files. */
  constructor(cacheDir: string, variant: string) {
    this.root = join(cacheDir, 'pieces', variant);
  }

  /** The piece stored under `key`, or undefined. Its payload is checked when it is copied. */
  async lookup(key: string): Promise<CachedPiece | undefined> {
    const path = join(this.root, key);
    try {
      const file = await open(path, 'r');
      try {
        const header = Buffer.alloc(PIECE_HEADER);
        const { bytesRead } = await file.read(header, 0, PIECE_HEADER, 0);
        const { size: fileSize } = await file.stat();
        if (bytesRead < PIECE_HEADER || !header.subarray(0, 4).equals(MAGIC)) return undefined;
        return { path, payloadSize: fileSize - PIECE_HEADER, digest: header.subarray(4, 36), crc: header.readUInt32LE(36), size: Number(header.readBigUInt64LE(40)) };
      } finally {
        await file.close();
      }
    } catch {
      return undefined;
    }
  }

  /**
   * Make the piece for `key` (or an unnamed one, kept only until `discard`):
   * `fill(path)` writes the payload into the file at `path` from offset
   * PIECE_HEADER on and returns the uncompressed CRC-32 and size.
   */
  async store(key: string | undefined, fill: (path: string) => Promise<{ crc: number; size: number }>): Promise<CachedPiece> {
    await mkdir(this.root, { recursive: true });
    const final = join(this.root, key ?? `.unnamed-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const tmp = tempPathBeside(final);
    try {
      const { crc, size } = await fill(tmp);
      const fd = openSync(tmp, 'r+');
      try {
        const hash = createHash('sha256');
        const payloadSize = scan(fd, PIECE_HEADER, this.buffer, (b) => hash.update(b));
        const digest = hash.digest();
        const header = Buffer.alloc(PIECE_HEADER);
        MAGIC.copy(header, 0);
        digest.copy(header, 4);
        header.writeUInt32LE(crc >>> 0, 36);
        header.writeBigUInt64LE(BigInt(size), 40);
        writeSync(fd, header, 0, PIECE_HEADER, 0);
        await rename(tmp, final);
        return { path: final, payloadSize, crc, size, digest };
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Append the piece's payload to `outFd` at `at`; with `verify`, false (nothing counted) when it no longer matches its digest. */
  copyPayload(piece: CachedPiece, outFd: number, at: number, verify: boolean): boolean {
    const fd = openSync(piece.path, 'r');
    try {
      const hash = verify ? createHash('sha256') : undefined;
      let written = 0;
      scan(fd, PIECE_HEADER, this.buffer, (bytes) => {
        hash?.update(bytes);
        for (let done = 0; done < bytes.length; ) done += writeSync(outFd, bytes, done, bytes.length - done, at + written + done);
        written += bytes.length;
      });
      return written === piece.payloadSize && (!hash || hash.digest().equals(piece.digest));
    } finally {
      closeSync(fd);
    }
  }

  /** Remove an unnamed piece. */
  async discard(piece: CachedPiece): Promise<void> {
    await rm(piece.path, { force: true });
  }
}
