/**
 * Writing the initramfs file. lz4 and gzip archives are put together from
 * pieces (initramfs/assemble.ts cuts them at content-defined entry
 * boundaries) compressed on their own, as many at a time as there are cores,
 * and kept in the piece cache (cache/piece-cache.ts): a build whose archive
 * mostly matches an earlier one (an image with one more layer) compresses
 * only the pieces that changed and copies the rest. lz4 pieces are complete
 * legacy streams one after another (the kernel's unlz4 skips the magic
 * between them, lz4 -d reads them as one); gzip pieces are raw deflate runs
 * inside one gzip member whose CRC is combined from theirs. zstd and none
 * are written as one stream.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { versions } from 'node:process';
import type { Compression } from '../bundle/manifest.ts';
import { PIECE_HEADER, PieceCache, type CachedPiece } from '../cache/piece-cache.ts';
import { openCompressedFile, openPieceFile } from '../compress/file-sink.ts';
import { GZIP_DEFAULT_LEVEL, GZIP_SEGMENT, crc32Combine, gzipEnd, gzipHeader } from '../compress/gzip.ts';
import { LZ4_DEFAULT_LEVEL } from '../compress/lz4.ts';
import { writeAtomicWith } from '../fs/atomic.ts';
import { planPieces, type ArchivePiece, type AssembleOptions } from '../initramfs/assemble.ts';
import { BlockPool, assembleInto, writePiece } from '../initramfs/piece-writer.ts';
import { ContentReader } from '../tree/content.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';

export interface InitramfsWriteOptions extends AssembleOptions {
  cacheDir: string;
}

/** The compressor and its settings, as piece files are named: other bytes for the same piece, another name. */
function variant(kind: 'lz4' | 'gzip'): string {
  if (kind === 'gzip') return `gzip-${GZIP_DEFAULT_LEVEL}-zlib-${versions.zlib}-${GZIP_SEGMENT}`;
  const version = /v(\d+\.\d+\.\d+)/.exec(execFileSync('lz4', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  return `lz4-legacy-${LZ4_DEFAULT_LEVEL}-${version}`;
}

/** The pieces of one archive, made or found, appended to the output in order. */
class PieceAssembler {
  private readonly cache: PieceCache;
  private readonly reader = new ContentReader();
  private readonly pool = new BlockPool();
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly parallel = Math.max(1, availableParallelism());
  written = 0;
  crc = 0;
  size = 0;

  constructor(private readonly kind: 'lz4' | 'gzip', cacheDir: string, private readonly out: number) {
    this.cache = new PieceCache(cacheDir, variant(kind));
  }

  /** Compress one piece into the cache, at most `parallel` at a time. */
  private async make(piece: ArchivePiece): Promise<CachedPiece> {
    if (this.running >= this.parallel) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await this.cache.store(piece.key, async (path) => {
        const sink = await openPieceFile(this.kind, path, PIECE_HEADER);
        try {
          await writePiece(piece, sink, this.reader, this.pool);
          return await sink.end();
        } catch (err) {
          await sink.abort();
          throw err;
        }
      });
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** The compressed piece: from the cache when an earlier build made it, else made now. */
  async obtain(piece: ArchivePiece): Promise<{ made: CachedPiece; reused: boolean }> {
    const found = piece.key === undefined ? undefined : await this.cache.lookup(piece.key);
    return found ? { made: found, reused: true } : { made: await this.make(piece), reused: false };
  }

  /** Append a piece's payload; a reused one that fails its digest is made again. */
  async append(piece: ArchivePiece, ready: Promise<{ made: CachedPiece; reused: boolean }>): Promise<void> {
    let { made, reused } = await ready;
    // A piece made by this build was hashed as it was stored; one from an earlier build is checked as it is copied.
    if (!this.cache.copyPayload(made, this.out, this.written, reused)) {
      made = await this.make(piece);
      this.cache.copyPayload(made, this.out, this.written, false);
    }
    this.written += made.payloadSize;
    this.crc = crc32Combine(this.crc, made.crc, made.size);
    this.size += made.size;
    if (piece.key === undefined) await this.cache.discard(made);
  }

  close(): void {
    this.reader.close();
  }
}

/** An lz4 or gzip initramfs from pieces; returns the uncompressed size. */
async function writeFromPieces(tree: RootfsTree, kind: 'lz4' | 'gzip', tmp: string, opts: InitramfsWriteOptions): Promise<number> {
  const out = openSync(tmp, 'w');
  const pieces = new PieceAssembler(kind, opts.cacheDir, out);
  try {
    if (kind === 'gzip') pieces.written += writeSync(out, gzipHeader(), 0, 10, 0);
    const pending: { piece: ArchivePiece; ready: Promise<{ made: CachedPiece; reused: boolean }> }[] = [];
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
    if (kind === 'gzip') writeSync(out, gzipEnd(pieces.crc, pieces.size), 0, 10, pieces.written);
    return pieces.size;
  } finally {
    pieces.close();
    closeSync(out);
  }
}

/** Write the tree's initramfs, `kind`-compressed, to `final` (atomically); returns the uncompressed size. */
export async function writeInitramfs(tree: RootfsTree, kind: Compression, final: string, opts: InitramfsWriteOptions): Promise<number> {
  let size = 0;
  await writeAtomicWith(final, async (tmp) => {
    if (kind === 'lz4' || kind === 'gzip') {
      size = await writeFromPieces(tree, kind, tmp, opts);
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
  return size;
}
