/**
 * zstd through Debian's `zstd` binary (node:zlib on Node 20 has no zstd).
 *
 * Reproducibility: zstd's streaming multithreaded mode (-T1 and up) produces
 * the same bytes whatever the number of threads, while --single-thread
 * produces different (also deterministic) bytes; zstd maintainers state this
 * in facebook/zstd#2238 and #2327, and we measured it (README.md; the tests
 * compare -T1 and -T2). The count is still fixed, so a future zstd bug in
 * that property cannot make bundles differ between machines. Output is NOT
 * guaranteed identical across zstd versions.
 *
 * Levels stop at 19: 20+ need --ultra and windows of up to 128 MiB that the
 * kernel's decompressor would have to allocate while unpacking.
 */
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import { spawnFilter, type FilterCommand } from './spawn-filter.ts';

/** 22.8% of input at 1.2 s/100 MB (-T2); -19 saves 3 more points for 50 s (see README.md). */
export const ZSTD_DEFAULT_LEVEL = 9;
/** -T2 was 1.5x faster than -T1 at level 9 on the 2-core build machine, same bytes. */
export const ZSTD_THREADS = 2;

function zstdCommand(args: string[]): FilterCommand {
  return { command: 'zstd', args, debianPackage: 'zstd' };
}

/** The compressing command line, and what its failure means. */
export function zstdCompressor(level: number = ZSTD_DEFAULT_LEVEL): { command: FilterCommand; failure: (detail: string) => Error } {
  if (!Number.isInteger(level) || level < 1 || level > 19) throw new RangeError(`zstd level must be 1..19, not ${level}`);
  return { command: zstdCommand(['-q', '-c', `-${level}`, `-T${ZSTD_THREADS}`]), failure: (detail) => new HyperbuildError(`zstd compression failed: ${detail}`) };
}

export function zstdCompress(input: AsyncIterable<Buffer>, level: number = ZSTD_DEFAULT_LEVEL): AsyncGenerator<Buffer> {
  const { command, failure } = zstdCompressor(level);
  return spawnFilter(command, input, failure);
}

export function zstdDecompress(input: AsyncIterable<Buffer>, label: string): AsyncGenerator<Buffer> {
  return spawnFilter(
    zstdCommand(['-q', '-d', '-c']),
    input,
    (detail) => new BadInputError(`${label}: corrupt or truncated zstd data (${detail})`),
  );
}
