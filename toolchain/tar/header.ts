/**
 * The 512-byte tar header: formats (ustar, GNU, v7), numeric fields, checksums, and decoding.
 */
import { BadInputError } from '../errors/errors.ts';
import { bytesToByteString, type ByteString } from '../paths/byte-string.ts';

export const BLOCK_SIZE = 512;

/**
 * ustar: POSIX 'ustar\0' '00' (prefix field holds a path prefix).
 * gnu: old GNU 'ustar ' ' \0' (the prefix area holds atime/ctime/sparse data instead).
 * v7: no magic; only name, mode, ids, size, mtime, typeflag and linkname mean anything.
 */
export type HeaderFormat = 'ustar' | 'gnu' | 'v7';

/** The 512-byte header decoded field by field, before PAX/GNU records are folded in. */
export interface RawHeader {
  format: HeaderFormat;
  /** Full name: for ustar, prefix + '/' + name. */
  path: ByteString;
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data following the header (for old GNU sparse: the stored, not the expanded, size). */
  size: number;
  mtime: number;
  typeflag: string;
  linkname: ByteString;
  devmajor: number;
  devminor: number;
  /** The block itself, for format-specific areas (old GNU sparse map). */
  block: Buffer;
}

/** Thrown for a malformed numeric field; callers add where it was found. */
export class NumericFieldError extends Error {}

/**
 * Decodes a numeric header field: octal text (NUL/space padded) or GNU
 * base-256, where the top bit of the first byte is set and bit 6 is the sign
 * of a big-endian two's complement number. Base-256 is how GNU tar stores
 * uids above 2097151, files of 8 GiB and more, and pre-1970 mtimes.
 */
export function parseNumericField(field: Uint8Array): number {
  if (field.length > 0 && (field[0]! & 0x80) !== 0) return parseBase256(field);
  return parseOctal(field);
}

function parseBase256(field: Uint8Array): number {
  const negative = (field[0]! & 0x40) !== 0;
  const invert = negative ? 0xff : 0;
  let value = 0n;
  for (let i = 0; i < field.length; i++) {
    let byte = field[i]! ^ invert;
    if (i === 0) byte &= 0x7f;
    value = (value << 8n) | BigInt(byte);
  }
  // Two's complement: inverted bits are -(x+1).
  if (negative) value = -value - 1n;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new NumericFieldError(`base-256 number ${value} is out of range`);
  }
  return Number(value);
}

function parseOctal(field: Uint8Array): number {
  let start = 0;
  let end = field.length;
  // Writers disagree on padding: leading spaces, trailing NUL and/or space, or none.
  while (start < end && (field[start] === 0x20 || field[start] === 0)) start++;
  while (end > start && (field[end - 1] === 0x20 || field[end - 1] === 0)) end--;
  let value = 0;
  for (let i = start; i < end; i++) {
    const c = field[i]!;
    if (c < 0x30 || c > 0x37) {
      throw new NumericFieldError(`'${Buffer.from(field).toString('latin1').replace(/[^\x20-\x7e]/g, '?')}' is not an octal number`);
    }
    value = value * 8 + (c - 0x30);
  }
  if (!Number.isSafeInteger(value)) throw new NumericFieldError('octal number is out of range');
  return value;
}

/** Up to the first NUL (fields are NUL-terminated only when shorter than the field). */
function cString(block: Buffer, offset: number, length: number): ByteString {
  const field = block.subarray(offset, offset + length);
  const nul = field.indexOf(0);
  return bytesToByteString(nul === -1 ? field : field.subarray(0, nul));
}

const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

export function isZeroBlock(block: Buffer): boolean {
  return block.length === BLOCK_SIZE && block.equals(ZERO_BLOCK);
}

/**
 * Accepts both unsigned and signed byte sums: some historic tars (old Sun,
 * early GNU) summed the header as signed chars, which differs for bytes >= 0x80.
 */
export function checksumMatches(block: Buffer): boolean {
  let stored: number;
  try {
    stored = parseOctal(block.subarray(148, 156));
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) {
    // The checksum field itself counts as eight spaces.
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** The checksum a writer stores (unsigned sum, checksum field as spaces). */
export function computeChecksum(block: Buffer): number {
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

export function detectFormat(block: Buffer): HeaderFormat {
  const magic = block.toString('latin1', 257, 263);
  const version = block.toString('latin1', 263, 265);
  if (magic === 'ustar\0' && version === '00') return 'ustar';
  if (magic === 'ustar ' && version === ' \0') return 'gnu';
  // Some writers emit 'ustar\0' with a blank or NUL version; the prefix field is still a prefix.
  if (magic === 'ustar\0') return 'ustar';
  return 'v7';
}

/**
 * Decodes one non-zero header block. `where` names the position for errors
 * (label and offset), since a bad header has no trustworthy name yet.
 */
export function decodeHeader(block: Buffer, where: string): RawHeader {
  if (!checksumMatches(block)) {
    throw new BadInputError(`${where}: tar header checksum mismatch (not a tar archive, or corrupted)`);
  }
  const format = detectFormat(block);
  const num = (offset: number, length: number, field: string): number => {
    try {
      return parseNumericField(block.subarray(offset, offset + length));
    } catch (error) {
      if (error instanceof NumericFieldError) {
        throw new BadInputError(`${where}: bad ${field} field in tar header: ${error.message}`);
      }
      throw error;
    }
  };
  let path = cString(block, 0, 100);
  if (format === 'ustar') {
    const prefix = cString(block, 345, 155);
    if (prefix !== '') path = `${prefix}/${path}`;
  }
  const hasDevFields = format !== 'v7';
  const size = num(124, 12, 'size');
  if (size < 0) throw new BadInputError(`${where}: negative size in tar header`);
  const uid = num(108, 8, 'uid');
  const gid = num(116, 8, 'gid');
  if (uid < 0 || gid < 0) throw new BadInputError(`${where}: negative uid or gid in tar header`);
  const typeByte = block[156]!;
  return {
    format,
    path,
    mode: num(100, 8, 'mode') & 0o7777,
    uid,
    gid,
    size,
    mtime: num(136, 12, 'mtime'),
    typeflag: String.fromCharCode(typeByte),
    linkname: cString(block, 157, 100),
    devmajor: hasDevFields ? num(329, 8, 'devmajor') : 0,
    devminor: hasDevFields ? num(337, 8, 'devminor') : 0,
    block,
  };
}
