/**
 * The initramfs compressions hyperbuild writes and reads, listed once: the
 * bundle format, the `--compression` flag, compress() and decompress() all
 * take their kinds from here.
 */
export const COMPRESSIONS = ['none', 'gzip', 'zstd', 'lz4'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** What a build may be asked for: a compression, or `auto` (the default: see resolveCompression). */
export const COMPRESSION_CHOICES = ['auto', ...COMPRESSIONS] as const;
export type CompressionChoice = (typeof COMPRESSION_CHOICES)[number];

/**
 * Below this many bytes of files, `auto` writes the initramfs uncompressed.
 * The kernel's lz4 unpacker allocates an 8 MiB output buffer whatever the
 * archive's size, and lz4 -1 keeps about half of the bytes, so under ~16 MiB
 * lz4 costs the guest more memory while it unpacks than it saves (the hello
 * bundle then boots in 28 MiB, not 34), and under TCG an uncompressed archive
 * also boots faster (README, Measurements). The bundle grows by at most ~8 MiB.
 */
export const AUTO_UNCOMPRESSED_BELOW = 16 * 1024 ** 2;

/** The compression a build writes: `auto` is lz4, or none for an archive of fewer than AUTO_UNCOMPRESSED_BELOW bytes. */
export function resolveCompression(choice: CompressionChoice, archiveFileBytes: number): Compression {
  if (choice !== 'auto') return choice;
  return archiveFileBytes < AUTO_UNCOMPRESSED_BELOW ? 'none' : 'lz4';
}
