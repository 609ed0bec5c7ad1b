/**
 * lz4 through Debian's `lz4` binary, always in the LEGACY frame format
 * (`lz4 -l`, magic 0x184C2102): the kernel's initramfs unpacker
 * (lib/decompress_unlz4.c) reads only that, and rejects the modern lz4
 * frame format that `lz4` writes by default. `lz4 -d` reads both.
 * Legacy frames carry no checksum, so corruption inside a block may go
 * unnoticed; prefer zstd when integrity matters.
 */
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import { spawnFilter, type FilterCommand } from './spawn-filter.ts';

/** lz4 exists here to unpack fastest; -1 keeps building fast too (0.4 s/100 MB, 40%). */
export const LZ4_DEFAULT_LEVEL = 1;

function lz4Command(args: string[]): FilterCommand {
  return { command: 'lz4', args, debianPackage: 'lz4' };
}

/** The compressing command line, and what its failure means. */
export function lz4Compressor(level: number = LZ4_DEFAULT_LEVEL): { command: FilterCommand; failure: (detail: string) => Error } {
  if (!Number.isInteger(level) || level < 1 || level > 12) throw new RangeError(`lz4 level must be 1..12, not ${level}`);
  return { command: lz4Command(['-q', '-c', '-l', `-${level}`]), failure: (detail) => new HyperbuildError(`lz4 compression failed: ${detail}`) };
}

export function lz4Compress(input: AsyncIterable<Buffer>, level: number = LZ4_DEFAULT_LEVEL): AsyncGenerator<Buffer> {
  const { command, failure } = lz4Compressor(level);
  return spawnFilter(command, input, failure);
}

export function lz4Decompress(input: AsyncIterable<Buffer>, label: string): AsyncGenerator<Buffer> {
  return spawnFilter(
    lz4Command(['-q', '-d', '-c']),
    input,
    (detail) => new BadInputError(`${label}: corrupt or truncated lz4 data (${detail})`),
  );
}
