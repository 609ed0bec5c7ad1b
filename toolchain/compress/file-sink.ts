/**
 * compress() for a file: blocks in, the compressed file out, for every
 * compression kind. The build's initramfs writer uses it so that no byte is
 * copied more than it must be and no buffer outlives its use: lz4 and zstd
 * write their output straight into the file (their stdout is the file),
 * gzip deflates in parallel pieces (gzip.ts) and writes them at known
 * offsets, none writes the blocks as they come. write() resolves when the
 * block may be filled again, so the writer can cycle a few fixed blocks.
 */
import { open, type FileHandle } from 'node:fs/promises';
import type { Compression } from './kinds.ts';
import { ParallelGzip } from './gzip.ts';
import { lz4Compressor } from './lz4.ts';
import { spawnFilterToFile, type BlockSink } from './spawn-filter.ts';
import { zstdCompressor } from './zstd.ts';

export type { BlockSink };

/** Appends to `file`; each write gets its offset when it is asked for, so concurrent writes land in order. */
function appender(file: FileHandle): (bytes: Buffer) => Promise<void> {
  let position = 0;
  return async (bytes) => {
    const at = position;
    position += bytes.length;
    for (let done = 0; done < bytes.length; ) done += (await file.write(bytes, done, bytes.length - done, at + done)).bytesWritten;
  };
}

async function fileSink(path: string, gzip: boolean): Promise<BlockSink> {
  const file = await open(path, 'w');
  const append = appender(file);
  const gz = gzip ? new ParallelGzip(append) : undefined;
  return {
    write: (block) => (gz ? gz.write(block) : append(block)),
    end: async () => {
      try {
        await gz?.end();
      } finally {
        await file.close();
      }
    },
    abort: () => file.close(),
  };
}

/** A sink that writes `kind`-compressed bytes to the (new) file at `path`. */
export async function openCompressedFile(kind: Compression, path: string): Promise<BlockSink> {
  switch (kind) {
    case 'none':
      return fileSink(path, false);
    case 'gzip':
      return fileSink(path, true);
    case 'lz4': {
      const { command, failure } = lz4Compressor();
      return spawnFilterToFile(command, path, failure);
    }
    case 'zstd': {
      const { command, failure } = zstdCompressor();
      return spawnFilterToFile(command, path, failure);
    }
  }
}
