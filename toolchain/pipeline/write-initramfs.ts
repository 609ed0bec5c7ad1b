/**
 * Writing the initramfs file. lz4 and gzip archives are put together from
 * pieces (initramfs/assemble.ts cuts them at content-defined entry
 * boundaries) compressed on their own, as many at a time as there are cores,
 * and found again through the piece cache (cache/piece-cache.ts: records of
 * where in an earlier cached initramfs each piece's bytes are): a build whose
 * archive mostly matches an earlier one (an image with one more layer)
 * compresses only the pieces that changed and copies the rest. Every byte is
 * hashed as it is appended, so the archive's digest costs no second read and a
 * reused piece no rehash (its file's stat identity vouches for it). lz4 pieces are complete
 * legacy streams one after another (the kernel's unlz4 skips the magic
 * between them, lz4 -d reads them as one); gzip pieces are raw deflate runs
 * inside one gzip member whose CRC is combined from theirs. zstd and none
 * are written as one stream.
 */
import { execFile } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { closeSync, ftruncateSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { versions } from 'node:process';
import { promisify } from 'node:util';
import type { Compression } from '../bundle/manifest.ts';
import { DigestMemo } from '../cache/digest-memo.ts';
import { FileFactMemo, programPath } from '../cache/file-fact-memo.ts';
import { PieceCache, type PieceRef } from '../cache/piece-cache.ts';
import { openCompressedFile, openPieceFile } from '../compress/file-sink.ts';
import { GZIP_DEFAULT_LEVEL, GZIP_SEGMENT, crc32Combine, gzipEnd, gzipHeader } from '../compress/gzip.ts';
import { LZ4_DEFAULT_LEVEL } from '../compress/lz4.ts';
import { HyperbuildError } from '../errors/errors.ts';
import { writeAtomicWith } from '../fs/atomic.ts';
import { planPieces, type ArchivePiece, type AssembleOptions } from '../initramfs/assemble.ts';
import { BlockPool, PIECE_BLOCK, assembleInto, writePiece } from '../initramfs/piece-writer.ts';
import { ContentReader } from '../tree/content.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';

export interface InitramfsWriteOptions extends AssembleOptions {
  cacheDir: string;
}

/** The compressor and its settings, as piece records are kept: other bytes for the same piece, another variant. */
async function variant(kind: 'lz4' | 'gzip', cacheDir: string): Promise<string> {
  if (kind === 'gzip') return `gzip-${GZIP_DEFAULT_LEVEL}-zlib-${versions.zlib}-${GZIP_SEGMENT}`;
  // lz4's version line is fixed by its binary: remembered by the binary's identity, not asked every build.
  const line = await new FileFactMemo(cacheDir).get('lz4 --version', [await programPath('lz4')], async () => (await promisify(execFile)('lz4', ['--version'], { encoding: 'utf8' })).stdout);
  const version = /v(\d+\.\d+\.\d+)/.exec(line)?.[1] ?? 'unknown';
  return `lz4-legacy-${LZ4_DEFAULT_LEVEL}-${version}`;
}

/** The archive file being put together: bytes appended in order and hashed as they are written, so its digest needs no second read. */
class HashedOutput {
  private hash: Hash = createHash('sha256');
  private readonly buffer = Buffer.allocUnsafe(PIECE_BLOCK);
  written = 0;

  constructor(readonly fd: number) {}

  put(bytes: Buffer): void {
    this.hash.update(bytes);
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done, this.written + done);
    this.written += bytes.length;
  }

  /** Append `length` bytes of the file at `path` from `from`; false, with nothing appended, when it has fewer. */
  copyFrom(path: string, from: number, length: number): boolean {
    const fd = openSync(path, 'r');
    const saved = { hash: this.hash.copy(), written: this.written };
    try {
      for (let done = 0; done < length; ) {
        const n = readSync(fd, this.buffer, 0, Math.min(this.buffer.length, length - done), from + done);
        if (n === 0) {
          Object.assign(this, saved);
          return false;
        }
        this.put(this.buffer.subarray(0, n));
        done += n;
      }
      return true;
    } finally {
      closeSync(fd);
    }
  }

  /** Cut anything a failed copy left past the end; the digest of what was appended. */
  end(): string {
    ftruncateSync(this.fd, this.written);
    return `sha256:${this.hash.digest('hex')}`;
  }
}

/** A piece in the archive: where its compressed bytes are (a cached record, or a scratch file made now). */
interface ReadyPiece {
  ref: PieceRef;
  reused: boolean;
}

/** A piece appended to the archive, as its record will say. */
type PlacedPiece = { key: string } & Omit<PieceRef, 'file'>;

/** The pieces of one archive, made or found, appended to the output in order. */
class PieceAssembler {
  private readonly reader = new ContentReader();
  private readonly pool = new BlockPool();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly parallel = Math.max(1, availableParallelism());
  /** Scratch files of pieces being made or not yet appended: removed whatever happens. */
  private readonly scratch = new Set<string>();
  /** Pieces whose records must point into this archive once it is in place. */
  readonly placed: PlacedPiece[] = [];
  crc = 0;
  size = 0;

  constructor(private readonly kind: 'lz4' | 'gzip', readonly cache: PieceCache, readonly out: HashedOutput, private readonly final: string) {}

  /** Compress one piece into a scratch file, at most `parallel` at a time. */
  private async make(piece: ArchivePiece): Promise<ReadyPiece> {
    if (this.running >= this.parallel) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      const path = await this.cache.scratchPath();
      this.scratch.add(path);
      const sink = await openPieceFile(this.kind, path, 0);
      try {
        await writePiece(piece, sink, this.reader, this.pool);
        const { crc, size } = await sink.end();
        return { ref: { file: path, offset: 0, length: statSync(path).size, crc, size }, reused: false };
      } catch (err) {
        await sink.abort();
        throw err;
      }
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** The compressed piece: from the cache when an earlier build made it, else made now. */
  async obtain(piece: ArchivePiece): Promise<ReadyPiece> {
    const found = piece.key === undefined ? undefined : await this.cache.lookup(piece.key);
    return found ? { ref: found, reused: true } : this.make(piece);
  }

  /** Append a piece's compressed bytes; a reused one whose file turns out shorter is made again. */
  async append(piece: ArchivePiece, ready: Promise<ReadyPiece>): Promise<void> {
    let { ref, reused } = await ready;
    const offset = this.out.written;
    if (!this.out.copyFrom(ref.file, ref.offset, ref.length)) {
      if (!reused) throw new HyperbuildError(`internal error: compressed piece ${ref.file} is shorter than it was written`);
      ({ ref, reused } = await this.make(piece));
      if (!this.out.copyFrom(ref.file, ref.offset, ref.length)) throw new HyperbuildError(`internal error: compressed piece ${ref.file} is shorter than it was written`);
    }
    if (!reused) {
      this.scratch.delete(ref.file);
      await rm(ref.file, { force: true });
    }
    // A piece reused from the file this archive replaces must be recorded again, in its new place.
    if (piece.key !== undefined && (!reused || ref.file === this.final)) this.placed.push({ key: piece.key, offset, length: ref.length, crc: ref.crc, size: ref.size });
    if (this.kind === 'gzip') this.crc = crc32Combine(this.crc, ref.crc, ref.size);
    this.size += ref.size;
  }

  async close(): Promise<void> {
    this.reader.close();
    await Promise.all([...this.scratch].map((p) => rm(p, { force: true })));
  }
}

/** An archive written from pieces: its uncompressed size and digest, and the pieces to record once it is in place. */
interface PiecesWritten {
  size: number;
  digest: string;
  cache: PieceCache;
  placed: PlacedPiece[];
}

/** An lz4 or gzip initramfs from pieces. */
async function writeFromPieces(tree: RootfsTree, kind: 'lz4' | 'gzip', tmp: string, final: string, opts: InitramfsWriteOptions): Promise<PiecesWritten> {
  const out = new HashedOutput(openSync(tmp, 'w'));
  const pieces = new PieceAssembler(kind, new PieceCache(opts.cacheDir, await variant(kind, opts.cacheDir)), out, final);
  try {
    if (kind === 'gzip') out.put(gzipHeader());
    const pending: { piece: ArchivePiece; ready: Promise<ReadyPiece> }[] = [];
    const next = async () => {
      const { piece, ready } = pending.shift()!;
      await pieces.append(piece, ready);
    };
    try {
      for (const piece of planPieces(tree, opts)) {
        const ready = pieces.obtain(piece);
        ready.catch(() => undefined);
        pending.push({ piece, ready });
        // Enough ahead to keep every core compressing; few enough that the waiting pieces' entries stay small.
        while (pending.length > 2 * availableParallelism()) await next();
      }
      while (pending.length > 0) await next();
    } finally {
      await Promise.allSettled(pending.map((p) => p.ready));
    }
    if (kind === 'gzip') out.put(gzipEnd(pieces.crc, pieces.size));
    return { size: pieces.size, digest: out.end(), cache: pieces.cache, placed: pieces.placed };
  } finally {
    await pieces.close();
    closeSync(out.fd);
  }
}

/** Write the tree's initramfs, `kind`-compressed, to `final` (atomically); returns the uncompressed size. */
export async function writeInitramfs(tree: RootfsTree, kind: Compression, final: string, opts: InitramfsWriteOptions): Promise<number> {
  let size = 0;
  let fromPieces: PiecesWritten | undefined;
  await writeAtomicWith(final, async (tmp) => {
    if (kind === 'lz4' || kind === 'gzip') {
      fromPieces = await writeFromPieces(tree, kind, tmp, final, opts);
      size = fromPieces.size;
      return;
    }
    const sink = await openCompressedFile(kind, tmp);
    try {
      size = await assembleInto(tree, sink, opts);
      await sink.end();
    } catch (err) {
      await sink.abort();
      throw err;
    }
  });
  if (fromPieces) {
    // Hashed as it was written: the build's digest of the file is then a stat (cache/digest-memo.ts), not a second read.
    await new DigestMemo(opts.cacheDir).remember(final, fromPieces.digest);
    await fromPieces.cache.remember(final, fromPieces.placed);
  }
  return size;
}
