/**
 * gzip through node:zlib, compressed in parallel the way pigz does it: the
 * input is cut into SEGMENT-byte pieces (by offset, so the cut does not
 * depend on how the input arrives), each deflated on libuv's thread pool
 * with the previous piece's last 32 KiB as its dictionary and ended with a
 * sync flush; the pieces, one final empty block, and a CRC-32 and size over
 * the whole input make ONE ordinary gzip member (RFC 1952), which gzip -d
 * and the kernel's inflate read as any other. The dictionary keeps the ratio
 * within a hair of a single stream; the segments keep every core busy.
 *
 * Deterministic for a given zlib build and level: the header is written
 * here (MTIME 0, no name, XFL 0 as zlib writes for level 6, OS 3 = Unix
 * whatever the platform), and the pieces depend only on the input bytes.
 * Cross-machine caveat: deflate output is only guaranteed identical for the
 * same zlib code; Node's bundled (Chromium) zlib picks SIMD paths per CPU,
 * and we have not verified that x86-64 and arm64 give identical bytes.
 */
import { pipeline } from 'node:stream';
import { constants, crc32, createGunzip, deflateRaw, type Gunzip } from 'node:zlib';
import { BadInputError } from '../errors/errors.ts';

/** zlib's own default: measured 28.6% at 3.6 s/100 MB vs 28.5% at 7 s for -9 (see README.md). */
export const GZIP_DEFAULT_LEVEL = 6;
/** Bytes per parallel piece: big enough that the 32 KiB dictionary costs nothing, small enough for many pieces. */
export const GZIP_SEGMENT = 1 << 20;
const WINDOW = 32 * 1024;
/** zlib's output buffer per piece: one piece's output in one or two goes, not dozens of 16 KiB round trips to the thread pool. */
const DEFLATE_OUT_CHUNK = 512 * 1024;
/** The same for inflating layers: 128 KiB pieces of output, an eighth of the thread-pool round trips of zlib's 16 KiB. */
const INFLATE_OUT_CHUNK = 128 * 1024;
const GZIP_OS_UNIX = 3;
/** A final, empty fixed-Huffman block: what ends a deflate stream whose pieces all ended with a sync flush. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

/** The 10-byte member header: deflate, no flags, MTIME 0, XFL 0, OS Unix. */
export function gzipHeader(): Buffer {
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, GZIP_OS_UNIX]);
}

/** What ends a member whose deflate pieces all ended with a sync flush: the final empty block, CRC-32 and size mod 2^32. */
export function gzipEnd(crc: number, size: number): Buffer {
  const trailer = Buffer.alloc(10);
  FINAL_EMPTY_BLOCK.copy(trailer, 0);
  trailer.writeUInt32LE(crc >>> 0, 2);
  trailer.writeUInt32LE(size % 2 ** 32, 6);
  return trailer;
}

function gf2Times(matrix: number[], vector: number): number {
  let sum = 0;
  for (let i = 0; vector !== 0; i++, vector >>>= 1) if (vector & 1) sum ^= matrix[i];
  return sum >>> 0;
}

function gf2Square(square: number[], matrix: number[]): void {
  for (let n = 0; n < 32; n++) square[n] = gf2Times(matrix, matrix[n]);
}

/** CRC-32 of A followed by B from crc(A), crc(B) and B's length, without the bytes (zlib's crc32_combine). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0;
  const even = new Array<number>(32);
  const odd = new Array<number>(32);
  odd[0] = 0xedb88320;
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row >>> 0;
  gf2Square(even, odd);
  gf2Square(odd, even);
  let crc = crcA >>> 0;
  for (let len = lengthB; len > 0; ) {
    gf2Square(even, odd);
    if (len % 2 === 1) crc = gf2Times(even, crc);
    len = Math.floor(len / 2);
    if (len === 0) break;
    gf2Square(odd, even);
    if (len % 2 === 1) crc = gf2Times(odd, crc);
    len = Math.floor(len / 2);
  }
  return (crc ^ crcB) >>> 0;
}

function deflatePiece(piece: Buffer, level: number, dictionary: Buffer | undefined): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deflateRaw(piece, { level, chunkSize: DEFLATE_OUT_CHUNK, finishFlush: constants.Z_SYNC_FLUSH, ...(dictionary ? { dictionary } : {}) }, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

/**
 * One gzip member written in parallel pieces. write() takes the input in
 * order and resolves when its buffer may be reused; the compressed bytes go
 * to `emit`, in order, one call at a time. end() finishes the member.
 */
export class ParallelGzip {
  private crc = 0;
  private size = 0;
  private dictionary: Buffer | undefined;
  private staged: Buffer | undefined;
  private stagedBytes = 0;
  private chain: Promise<void>;

  /** `raw`: only the deflate pieces, no header or end (a piece of a member put together elsewhere, see gzipEnd). */
  constructor(private readonly emit: (bytes: Buffer) => Promise<void> | void, private readonly level = GZIP_DEFAULT_LEVEL, private readonly raw = false) {
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`gzip level must be 1..9, not ${level}`);
    this.chain = Promise.resolve(raw ? undefined : emit(gzipHeader()));
  }

  /** Start deflating one piece now (its bookkeeping happens in call order); the emit chain keeps the output in order. */
  private submit(piece: Buffer): Promise<void> {
    this.crc = crc32(piece, this.crc);
    this.size += piece.length;
    const done = deflatePiece(piece, this.level, this.dictionary);
    this.dictionary = Buffer.from(piece.subarray(Math.max(0, piece.length - WINDOW)));
    this.chain = this.chain.then(async () => this.emit(await done));
    // Seen by end(); a writer that gives up never calls it, and must not get an unhandled rejection.
    this.chain.catch(() => undefined);
    return done.then(() => undefined);
  }

  /** Add input; the promise resolves once `data` is no longer referenced. */
  write(data: Buffer): Promise<void> {
    const held: Promise<void>[] = [];
    let at = 0;
    while (at < data.length) {
      if (this.stagedBytes === 0 && data.length - at >= GZIP_SEGMENT) {
        held.push(this.submit(data.subarray(at, at + GZIP_SEGMENT)));
        at += GZIP_SEGMENT;
        continue;
      }
      this.staged ??= Buffer.allocUnsafe(GZIP_SEGMENT);
      const n = data.copy(this.staged, this.stagedBytes, at, Math.min(data.length, at + GZIP_SEGMENT - this.stagedBytes));
      this.stagedBytes += n;
      at += n;
      if (this.stagedBytes === GZIP_SEGMENT) this.flushStaged();
    }
    const all = Promise.all(held).then(() => undefined);
    all.catch(() => undefined);
    return all;
  }

  private flushStaged(): void {
    if (this.stagedBytes === 0) return;
    // The staged buffer belongs to its deflate now; the next piece gets a new one.
    void this.submit(this.staged!.subarray(0, this.stagedBytes)).catch(() => undefined);
    this.staged = undefined;
    this.stagedBytes = 0;
  }

  /** The last piece, then (unless raw) the final block and the trailer; resolves when all is emitted, with the input's CRC-32 and size. */
  async end(): Promise<{ crc: number; size: number }> {
    this.flushStaged();
    if (!this.raw) this.chain = this.chain.then(() => this.emit(gzipEnd(this.crc, this.size)));
    await this.chain;
    return { crc: this.crc >>> 0, size: this.size };
  }
}

/** Pieces in flight at once in gzipCompress (the build's writer bounds it by its own block pool). */
const STREAM_IN_FLIGHT = 4;

export async function* gzipCompress(input: AsyncIterable<Buffer>, level: number = GZIP_DEFAULT_LEVEL): AsyncGenerator<Buffer> {
  const ready: Buffer[] = [];
  const gz = new ParallelGzip((bytes) => void ready.push(bytes), level);
  const writes: Promise<void>[] = [];
  try {
    for await (const chunk of input) {
      writes.push(gz.write(chunk));
      if (writes.length > STREAM_IN_FLIGHT) await writes.shift();
      while (ready.length > 0) yield ready.shift()!;
    }
    await Promise.all(writes);
    await gz.end();
  } finally {
    for (const w of writes) w.catch(() => undefined);
  }
  while (ready.length > 0) yield ready.shift()!;
}

export async function* gzipDecompress(input: AsyncIterable<Buffer>, label: string): AsyncGenerator<Buffer> {
  try {
    yield* through(input, createGunzip({ chunkSize: INFLATE_OUT_CHUNK }));
  } catch (error) {
    if (isZlibError(error)) {
      const what = error.code === 'Z_BUF_ERROR' ? 'truncated gzip data' : 'corrupt gzip data';
      throw new BadInputError(`${label}: ${what} (${error.message})`, { cause: error });
    }
    throw error;
  }
}

/** Errors raised by zlib itself (as opposed to the input stream failing) have Z_* codes. */
function isZlibError(error: unknown): error is NodeJS.ErrnoException & { code: string } {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** Feeds input into a zlib transform; errors from either side surface in the iteration. */
function through(input: AsyncIterable<Buffer>, transform: Gunzip): AsyncIterable<Buffer> {
  return pipeline(input, transform, () => {
    // Errors are delivered to the iterating consumer through the transform.
  });
}
