import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChunkReader } from '../toolchain/tar/chunk-reader.ts';
import { randomChunks } from './helpers/tar-chunks.ts';

const data = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7) & 0xff));

async function* bytes(buf: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i++) yield buf.subarray(i, i + 1);
  yield Buffer.alloc(0); // empty chunks are legal and meaningless
}

test('exact reads, partial reads and skips reassemble the stream at any chunking', async () => {
  for (const source of [bytes(data), randomChunks(data, 1, 5000), randomChunks(data, 2, 3)]) {
    const reader = new ChunkReader(source);
    const parts: Buffer[] = [];
    parts.push(await reader.readExact(3000)); // spans thousands of 1-byte chunks: exercises compaction
    parts.push(await reader.readSome(10_000));
    assert.is(reader.offset, 3000 + parts[1]!.length);
    const skipAt = reader.offset;
    assert.is(await reader.skip(1000), 1000);
    parts.push(Buffer.alloc(1000)); // placeholder, compared separately
    parts.push(await reader.readExact(100_000)); // short: the stream ends first
    assert.is(reader.offset, data.length);
    const joined = Buffer.concat(parts);
    assert.is(joined.length, data.length);
    assert.ok(joined.subarray(0, skipAt).equals(data.subarray(0, skipAt)));
    assert.ok(joined.subarray(skipAt + 1000).equals(data.subarray(skipAt + 1000)));
    assert.is((await reader.readSome(10)).length, 0, 'end of stream');
    assert.is(await reader.skip(10), 0);
  }
});

test('drain reads everything and counts it', async () => {
  let done = false;
  const source = (async function* () {
    yield* randomChunks(data, 3, 2000);
    done = true;
  })();
  const reader = new ChunkReader(source);
  await reader.readExact(10);
  await reader.drain();
  assert.ok(done);
  assert.is(reader.offset, data.length);
});

test.run();
