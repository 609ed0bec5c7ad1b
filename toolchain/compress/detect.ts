/**
 * The one compression sniffer: what a stream's first bytes say it is, for
 * data whose name or media type cannot be trusted (a mislabelled layer, an
 * ACI file, a user's initramfs). sniffCompression() only identifies;
 * what is accepted is the caller's policy. detectCompression() is the policy
 * for initramfs data: formats the kernel can unpack but hyperbuild does not
 * handle are refused by name, so the user is not left with "bad cpio magic"
 * for an xz file.
 */
import { BadInputError } from '../errors/errors.ts';
import type { Compression } from './kinds.ts';

/** Everything the sniffer recognises: ours, plus what others use and we must name when refusing it. */
export type SniffedCompression = Compression | 'lz4-frame' | 'xz' | 'bzip2' | 'lzop' | 'lzma';

export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** 0xFD2FB528 little-endian. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** 0x184C2102 little-endian: lz4 legacy frame, the only lz4 the kernel reads. */
export const LZ4_LEGACY_MAGIC = Buffer.from([0x02, 0x21, 0x4c, 0x18]);

const MAGICS: { kind: Exclude<SniffedCompression, 'none'>; magic: Buffer }[] = [
  { kind: 'gzip', magic: GZIP_MAGIC },
  { kind: 'zstd', magic: ZSTD_MAGIC },
  { kind: 'lz4', magic: LZ4_LEGACY_MAGIC },
  /** 0x184D2204 little-endian: the modern lz4 frame format. */
  { kind: 'lz4-frame', magic: Buffer.from([0x04, 0x22, 0x4d, 0x18]) },
  { kind: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
  { kind: 'bzip2', magic: Buffer.from('BZh', 'latin1') },
  { kind: 'lzop', magic: Buffer.from([0x89, 0x4c, 0x5a, 0x4f]) },
  // lzma-alone has no real magic; this is the header of its default settings.
  { kind: 'lzma', magic: Buffer.from([0x5d, 0x00, 0x00]) },
];

/** Bytes the sniffer needs to tell every format apart. */
export const SNIFF_BYTES = 6;

/** The format whose magic `firstBytes` starts with; 'none' when no magic matches (plain data, or too few bytes). */
export function sniffCompression(firstBytes: Buffer): SniffedCompression {
  const found = MAGICS.find(({ magic }) => firstBytes.length >= magic.length && firstBytes.subarray(0, magic.length).equals(magic));
  return found?.kind ?? 'none';
}

/**
 * The compression of initramfs data. Anything not recognised is 'none': the
 * cpio reader that comes next reports a bad header with an offset, which says
 * more than "unknown compression".
 */
export function detectCompression(firstBytes: Buffer, label: string = 'input'): Compression {
  const kind = sniffCompression(firstBytes);
  if (kind === 'lz4-frame') {
    throw new BadInputError(`${label}: lz4 data in the modern frame format, which the kernel cannot unpack`, {
      hint: 'Recompress with the legacy format: lz4 -d < file | lz4 -l > file.lz4',
    });
  }
  if (kind === 'xz' || kind === 'bzip2' || kind === 'lzop' || kind === 'lzma') {
    throw new BadInputError(`${label}: ${kind}-compressed data; hyperbuild handles gzip, zstd and lz4 (legacy)`, {
      hint: `Recompress it, e.g. ${kind} -d < file | zstd > file.zst`,
    });
  }
  return kind;
}
