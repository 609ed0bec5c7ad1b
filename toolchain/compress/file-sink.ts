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

/** A sink for one piece: end() gives the CRC-32 (gzip) and size of the uncompressed bytes. */
export type PieceSink = Omit<BlockSink, 'end'> & { end(): Promise<{ crc: number; size: number }> };

/**
 * A piece of an lz4 or gzip initramfs (pipeline/write-initramfs.ts): the
 * compressed bytes of `blocks` written into `path` from offset `from`. lz4:
 * one complete legacy stream (the kernel and lz4 -d read such streams one
 * after another as one); gzip: raw deflate pieces only, the member's header
 * and end are written around all pieces. end() gives the CRC-32 and size of
 * what went in (the CRC only for gzip).
 */
export async function openPieceFile(kind: 'lz4' | 'gzip', path: string, from: number): Promise<PieceSink> {
  if (kind === 'lz4') {
    const { command, failure } = lz4Compressor();
    const sink = spawnFilterToFile(command, path, failure, { from });
    let size = 0;
    return {
      write: (block) => {
        size += block.length;
        return sink.write(block);
      },
      // lz4 frames need no CRC of the whole.
      end: async () => {
        await sink.end();
        return { crc: 0, size };
      },
      abort: () => sink.abort(),
    };
  }
  const file = await open(path, 'w');
  const gz = new ParallelGzip(appender(file, from), undefined, true);
  return {
    write: (block) => gz.write(block),
    end: async () => {
      try {
        return await gz.end();
      } finally {
        await file.close();
      }
    },
    abort: () => file.close(),
  };
}

/** Appends to `file` from `from`; each write gets its offset when it is asked for, so concurrent writes land in order. */
function appender(file: FileHandle, from = 0): (bytes: Buffer) => Promise<void> {
  let position = from;
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
