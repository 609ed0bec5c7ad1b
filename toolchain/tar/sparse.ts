/**
 * GNU sparse files: the archive stores only the data segments, back to back;
 * the map says where each lands in the logical file, and the rest are holes.
 * Four encodings exist: old GNU type 'S' (map in the header plus extension
 * blocks) and PAX 0.0, 0.1 (map in PAX records) and 1.0 (map at the start of
 * the body, as decimal text padded to a block).
 */
import { BadInputError } from '../errors/errors.ts';
import { bytesToByteString, type ByteString } from '../paths/byte-string.ts';
import { BLOCK_SIZE, NumericFieldError, parseNumericField } from './header.ts';
import { parseDecimal, type PaxRecord } from './pax.ts';

export interface SparseSegment {
  offset: number;
  length: number;
}

export interface SparseLayout {
  /** Logical (expanded) file size. */
  realSize: number;
  segments: SparseSegment[];
}

/** A map beyond this is hostile, not a file: each segment costs memory before any data is read. */
export const MAX_SPARSE_SEGMENTS = 1 << 20;

const ENTRIES_IN_HEADER = 4;
const ENTRIES_IN_EXTENSION = 21;
const ENTRY_BYTES = 24;

function numeric(block: Buffer, offset: number, length: number, where: string): number {
  try {
    const n = parseNumericField(block.subarray(offset, offset + length));
    if (n < 0) throw new NumericFieldError('negative');
    return n;
  } catch (error) {
    if (error instanceof NumericFieldError) throw new BadInputError(`${where}: bad GNU sparse map: ${error.message}`);
    throw error;
  }
}

function readEntries(block: Buffer, start: number, count: number, into: SparseSegment[], where: string): void {
  for (let i = 0; i < count; i++) {
    const at = start + i * ENTRY_BYTES;
    // An entry whose offset field is empty ends the list (as GNU tar and Go's archive/tar read it).
    if (block[at] === 0) break;
    if (into.length >= MAX_SPARSE_SEGMENTS) throw new BadInputError(`${where}: GNU sparse map has too many segments`);
    into.push({ offset: numeric(block, at, 12, where), length: numeric(block, at + 12, 12, where) });
  }
}

/** Old GNU 'S' header: four map entries at 386, an "extended" flag at 482, real size at 483. */
export function oldGnuSparseHeader(block: Buffer, where: string): { layout: SparseLayout; extended: boolean } {
  const segments: SparseSegment[] = [];
  readEntries(block, 386, ENTRIES_IN_HEADER, segments, where);
  return { layout: { realSize: numeric(block, 483, 12, where), segments }, extended: block[482] !== 0 };
}

/** One extension block after an old GNU 'S' header: 21 entries, then its own "extended" flag at 504. */
export function oldGnuSparseExtension(block: Buffer, into: SparseSegment[], where: string): boolean {
  readEntries(block, 0, ENTRIES_IN_EXTENSION, into, where);
  return block[504] !== 0;
}

/** What the GNU.sparse.* PAX records say, before any body is read. */
export interface PaxSparseInfo {
  /** 1.0 keeps the map in the body, so segments are filled in later. */
  version: '0.0' | '0.1' | '1.0';
  realSize: number;
  segments: SparseSegment[];
  /** GNU.sparse.name: the real path (the ustar/PAX path is a GNUSparseFile.PID placeholder). */
  name?: ByteString;
}

export function paxSparseInfo(records: PaxRecord[], where: string): PaxSparseInfo | undefined {
  if (records.length === 0) return undefined;
  let major: number | undefined;
  let minor: number | undefined;
  let realSize: number | undefined;
  let name: ByteString | undefined;
  let map: string | undefined;
  const offsets: number[] = [];
  const lengths: number[] = [];
  for (const { key, value } of records) {
    switch (key) {
      case 'GNU.sparse.major': major = parseDecimal(value, key, where); break;
      case 'GNU.sparse.minor': minor = parseDecimal(value, key, where); break;
      case 'GNU.sparse.size':
      case 'GNU.sparse.realsize': realSize = parseDecimal(value, key, where); break;
      case 'GNU.sparse.name': name = bytesToByteString(value); break;
      case 'GNU.sparse.map': map = value.toString('latin1'); break;
      case 'GNU.sparse.offset':
        if (offsets.length >= MAX_SPARSE_SEGMENTS) throw new BadInputError(`${where}: GNU sparse map has too many segments`);
        offsets.push(parseDecimal(value, key, where));
        break;
      case 'GNU.sparse.numbytes':
        lengths.push(parseDecimal(value, key, where));
        break;
      default:
        break; // numblocks is redundant with the map itself
    }
  }
  const hasMap = map !== undefined || offsets.length > 0;
  if (major === undefined && !hasMap && realSize === undefined) {
    // Only stray bookkeeping records (numblocks, a lone name): nothing to expand.
    return undefined;
  }
  if (realSize === undefined) throw new BadInputError(`${where}: GNU sparse PAX records without a real size`);
  if (major !== undefined) {
    if (major !== 1 || (minor ?? 0) !== 0) {
      throw new BadInputError(`${where}: unsupported GNU sparse format ${major}.${minor ?? 0}`);
    }
    return { version: '1.0', realSize, segments: [], name };
  }
  if (map !== undefined) {
    const parts = map === '' ? [] : map.split(',');
    if (parts.length % 2 !== 0) throw new BadInputError(`${where}: GNU.sparse.map has an odd number of values`);
    if (parts.length / 2 > MAX_SPARSE_SEGMENTS) throw new BadInputError(`${where}: GNU sparse map has too many segments`);
    const segments: SparseSegment[] = [];
    for (let i = 0; i < parts.length; i += 2) {
      segments.push({
        offset: parseDecimal(Buffer.from(parts[i]!, 'latin1'), 'GNU.sparse.map', where),
        length: parseDecimal(Buffer.from(parts[i + 1]!, 'latin1'), 'GNU.sparse.map', where),
      });
    }
    return { version: '0.1', realSize, segments, name };
  }
  if (offsets.length !== lengths.length) {
    throw new BadInputError(`${where}: GNU.sparse.offset and GNU.sparse.numbytes do not pair up`);
  }
  return { version: '0.0', realSize, segments: offsets.map((offset, i) => ({ offset, length: lengths[i]! })), name };
}

/**
 * Sparse 1.0 map at the start of the body: count, then offset/length pairs,
 * each a decimal line, padded with NULs to a block boundary. Reads one block
 * at a time so a hostile count cannot make us buffer more than the map itself.
 */
export async function readSparse10Map(
  nextBlock: () => Promise<Buffer>,
  where: string,
): Promise<{ segments: SparseSegment[]; mapBytes: number }> {
  const numbers: number[] = [];
  let wanted = 1;
  let digits = '';
  let mapBytes = 0;
  while (numbers.length < wanted) {
    const block = await nextBlock();
    mapBytes += BLOCK_SIZE;
    for (let i = 0; i < BLOCK_SIZE && numbers.length < wanted; i++) {
      const c = block[i]!;
      if (c === 0x0a) {
        if (digits === '') throw new BadInputError(`${where}: malformed GNU sparse 1.0 map`);
        numbers.push(parseDecimal(Buffer.from(digits, 'latin1'), 'GNU sparse 1.0 map', where));
        digits = '';
        if (numbers.length === 1) {
          if (numbers[0]! > MAX_SPARSE_SEGMENTS) throw new BadInputError(`${where}: GNU sparse map has too many segments`);
          wanted = 1 + 2 * numbers[0]!;
        }
      } else if (c >= 0x30 && c <= 0x39 && digits.length < 20) {
        digits += String.fromCharCode(c);
      } else {
        throw new BadInputError(`${where}: malformed GNU sparse 1.0 map`);
      }
    }
  }
  const segments: SparseSegment[] = [];
  for (let i = 1; i < numbers.length; i += 2) segments.push({ offset: numbers[i]!, length: numbers[i + 1]! });
  return { segments, mapBytes };
}

/**
 * The map must describe exactly the stored bytes, in order, inside the file:
 * otherwise the expanded content would depend on how a reader resolves the
 * contradiction.
 */
export function validateSparseLayout(layout: SparseLayout, storedBytes: number, where: string): void {
  let end = 0;
  let total = 0;
  for (const { offset, length } of layout.segments) {
    if (offset < end) throw new BadInputError(`${where}: GNU sparse map segments overlap or are out of order`);
    end = offset + length;
    if (end > layout.realSize) throw new BadInputError(`${where}: GNU sparse map reaches past the file size`);
    total += length;
  }
  if (total !== storedBytes) {
    throw new BadInputError(`${where}: GNU sparse map describes ${total} bytes but ${storedBytes} are stored`);
  }
}

/** Holes are emitted in fresh chunks of this size: bounded memory, and no shared buffer a consumer could scribble on. */
const ZERO_CHUNK = 256 * 1024;

async function* zeros(count: number): AsyncGenerator<Buffer> {
  for (let left = count; left > 0; left -= ZERO_CHUNK) yield Buffer.alloc(Math.min(left, ZERO_CHUNK));
}

/**
 * The logical file content: stored data slices passed through as they come,
 * holes as zeros. `readData(max)` returns up to max stored bytes and throws on truncation.
 */
export async function* expandSparse(layout: SparseLayout, readData: (max: number) => Promise<Buffer>): AsyncGenerator<Buffer> {
  let position = 0;
  for (const { offset, length } of layout.segments) {
    yield* zeros(offset - position);
    for (let left = length; left > 0; ) {
      const chunk = await readData(left);
      left -= chunk.length;
      yield chunk;
    }
    position = offset + length;
  }
  yield* zeros(layout.realSize - position);
}
