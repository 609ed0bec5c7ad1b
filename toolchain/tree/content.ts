/**
 * Where a regular file's bytes are and how writers read them back: in memory
 * (HyperStart's own files, trees made in tests) or a range of a spill file
 * (a decoded layer's data file in the cache, toolchain/layers/decoded-layer.ts),
 * read with positioned reads in bounded chunks so no file's content ever has
 * to sit in the JS heap whole.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { HyperbuildError } from '../errors/errors.ts';
import type { Inode } from './inode.ts';

/** Chunk size for streamed content: large enough that a compressor gets few, big writes. */
export const CONTENT_CHUNK = 1 << 20;

/**
 * Reads inode contents for one writer run. Spill files are opened once each
 * and read with pread, so the walk order (byte order of names) can differ
 * from the order the files were spilled in. Call close() when done.
 */
export class ContentReader {
  private readonly fds = new Map<string, number>();
  private copyBuffer: Buffer | undefined;

  private fd(path: string): number {
    let fd = this.fds.get(path);
    if (fd === undefined) {
      fd = openSync(path, 'r');
      this.fds.set(path, fd);
    }
    return fd;
  }

  /** Copy `length` bytes of the inode's content, from `at`, into `into` at `intoOffset`. */
  readInto(inode: Inode, at: number, into: Buffer, intoOffset: number, length: number): void {
    if (length === 0) return;
    if (inode.spill) {
      const fd = this.fd(inode.spill.path);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, into, intoOffset + done, length - done, inode.spill.offset + at + done);
        if (n === 0) throw new HyperbuildError(`spill file ${inode.spill.path} is shorter than its index says (the cache was modified?)`, { hint: 'remove the cache directory and build again' });
        done += n;
      }
      return;
    }
    let skip = at;
    let filled = 0;
    for (const chunk of inode.content) {
      if (filled === length) break;
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      const n = chunk.copy(into, intoOffset + filled, skip, Math.min(chunk.length, skip + length - filled));
      filled += n;
      skip = 0;
    }
    if (filled !== length) throw new HyperbuildError(`internal error: file content has fewer bytes than its size (${inode.size})`);
  }

  /** The whole content as chunks of at most `chunk` bytes (in-memory content is handed out as it is). */
  *chunks(inode: Inode, chunk = CONTENT_CHUNK): Generator<Buffer> {
    if (!inode.spill) {
      yield* inode.content;
      return;
    }
    for (let at = 0; at < inode.size; at += chunk) {
      const n = Math.min(chunk, inode.size - at);
      const buf = Buffer.allocUnsafe(n);
      this.readInto(inode, at, buf, 0, n);
      yield buf;
    }
  }

  /** Write the whole content into the new file at `path`, through one reused buffer (no garbage per chunk). */
  copyToFile(inode: Inode, path: string): void {
    const out = openSync(path, 'w');
    try {
      const write = (bytes: Buffer) => {
        for (let done = 0; done < bytes.length; ) done += writeSync(out, bytes, done, bytes.length - done);
      };
      if (!inode.spill) {
        for (const chunk of inode.content) write(chunk);
        return;
      }
      this.copyBuffer ??= Buffer.allocUnsafe(CONTENT_CHUNK);
      for (let at = 0; at < inode.size; at += CONTENT_CHUNK) {
        const n = Math.min(CONTENT_CHUNK, inode.size - at);
        this.readInto(inode, at, this.copyBuffer, 0, n);
        write(this.copyBuffer.subarray(0, n));
      }
    } finally {
      closeSync(out);
    }
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
