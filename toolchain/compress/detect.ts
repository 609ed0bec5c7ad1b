/**
 * Compression by magic number, for files whose name or media type cannot be
 * trusted (a user's initramfs, a mislabelled layer). Formats the kernel can
 * unpack but hyperbuild does not handle are refused by name, so the user is
 * not left with "bad cpio magic" for an xz file.
 */
import type { Compression } from '../bundle/manifest.ts';
import { BadInputError } from '../errors/errors.ts';

export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** 0xFD2FB528 little-endian. */
export const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** 0x184C2102 little-endian: lz4 legacy frame, the only lz4 the kernel reads. */
export const LZ4_LEGACY_MAGIC = Buffer.from([0x02, 0x21, 0x4c, 0x18]);
/** 0x184D2204 little-endian: the modern lz4 frame format. */
const LZ4_FRAME_MAGIC = Buffer.from([0x04, 0x22, 0x4d, 0x18]);

const UNSUPPORTED: { name: string; magic: Buffer }[] = [
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) },
  { name: 'bzip2', magic: Buffer.from('BZh', 'latin1') },
  { name: 'lzop', magic: Buffer.from([0x89, 0x4c, 0x5a, 0x4f]) },
  // lzma-alone has no real magic; this is the header of its default settings.
  { name: 'lzma', magic: Buffer.from([0x5d, 0x00, 0x00]) },
];

/**
 * Needs at least the first 6 bytes to tell everything apart. Anything not
 * recognised is 'none': the cpio or tar reader that comes next reports a bad
 * header with an offset, which says more than "unknown compression".
 */
export function detectCompression(firstBytes: Buffer, label: string = 'input'): Compression {
  const startsWith = (magic: Buffer) =>
    firstBytes.length >= magic.length && firstBytes.subarray(0, magic.length).equals(magic);
  if (startsWith(GZIP_MAGIC)) return 'gzip';
  if (startsWith(ZSTD_MAGIC)) return 'zstd';
  if (startsWith(LZ4_LEGACY_MAGIC)) return 'lz4';
  if (startsWith(LZ4_FRAME_MAGIC)) {
    throw new BadInputError(`${label}: lz4 data in the modern frame format, which the kernel cannot unpack`, {
      hint: 'Recompress with the legacy format: lz4 -d < file | lz4 -l > file.lz4',
    });
  }
  for (const { name, magic } of UNSUPPORTED) {
    if (startsWith(magic)) {
      throw new BadInputError(`${label}: ${name}-compressed data; hyperbuild handles gzip, zstd and lz4 (legacy)`, {
        hint: `Recompress it, e.g. ${name === 'lzop' ? 'lzop' : name} -d < file | zstd > file.zst`,
      });
    }
  }
  return 'none';
}
