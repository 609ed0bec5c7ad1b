import { createHash } from 'node:crypto';
import type { TarEntry } from '../../toolchain/tar/entry.ts';
import { readTar } from '../../toolchain/tar/reader.ts';

/** Deterministic PRNG (mulberry32) so a failing split can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Yields copies of buf cut at random boundaries. Sizes are drawn log-uniformly
 * up to maxChunk so 1-byte, header-straddling and multi-block chunks all occur.
 */
export async function* randomChunks(buf: Buffer, seed: number, maxChunk = 1 << 16): AsyncGenerator<Buffer> {
  const random = seededRandom(seed);
  let pos = 0;
  while (pos < buf.length) {
    const size = Math.max(1, Math.floor(Math.exp(random() * Math.log(maxChunk))));
    yield Buffer.from(buf.subarray(pos, pos + size));
    pos += size;
  }
}

export async function* oneChunk(buf: Buffer): AsyncGenerator<Buffer> {
  yield buf;
}

export interface ReadMember {
  entry: TarEntry;
  data: Buffer;
  sha256: string;
  /** Largest chunk the body yielded (bounded-memory checks). */
  maxChunk: number;
}

/** Reads a whole archive, bodies included (fine for test-sized files). */
export async function readAll(source: AsyncIterable<Buffer>, label = 'test archive'): Promise<ReadMember[]> {
  const out: ReadMember[] = [];
  for await (const { entry, body } of readTar(source, label)) {
    const parts: Buffer[] = [];
    let maxChunk = 0;
    for await (const chunk of body) {
      parts.push(chunk);
      maxChunk = Math.max(maxChunk, chunk.length);
    }
    const data = Buffer.concat(parts);
    out.push({ entry, data, sha256: createHash('sha256').update(data).digest('hex'), maxChunk });
  }
  return out;
}

/** Resolves to the rejection, or fails if the promise resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}
