/**
 * The initramfs compressions hyperbuild writes and reads, listed once: the
 * bundle format, the `--compression` flag, compress() and decompress() all
 * take their kinds from here.
 */
export const COMPRESSIONS = ['none', 'gzip', 'zstd', 'lz4'] as const;
export type Compression = (typeof COMPRESSIONS)[number];
