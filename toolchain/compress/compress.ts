/**
 * One entry point for every initramfs compression, so the builder never
 * knows which tool or library does the work. Levels are fixed per kind
 * (see README.md for the measurements behind them): a bundle's bytes must
 * depend only on its inputs, not on flags someone forgot to pass.
 */
import type { Compression } from './kinds.ts';
import { gzipCompress } from './gzip.ts';
import { lz4Compress } from './lz4.ts';
import { zstdCompress } from './zstd.ts';

export function compress(kind: Compression, input: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  switch (kind) {
    case 'none':
      return input;
    case 'gzip':
      return gzipCompress(input);
    case 'zstd':
      return zstdCompress(input);
    case 'lz4':
      return lz4Compress(input);
  }
}
