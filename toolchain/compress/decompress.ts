/**
 * Inverse of compress(), for image layers, `hyperbuild inspect` and tests.
 * Input may be hostile: corrupt or truncated data is a BadInputError whose
 * message starts with `label`, so the user learns which file is broken.
 */
import type { Compression } from './kinds.ts';
import { gzipDecompress } from './gzip.ts';
import { lz4Decompress } from './lz4.ts';
import { zstdDecompress } from './zstd.ts';

export function decompress(kind: Compression, input: AsyncIterable<Buffer>, label: string): AsyncIterable<Buffer> {
  switch (kind) {
    case 'none':
      return input;
    case 'gzip':
      return gzipDecompress(input, label);
    case 'zstd':
      return zstdDecompress(input, label);
    case 'lz4':
      return lz4Decompress(input, label);
  }
}
