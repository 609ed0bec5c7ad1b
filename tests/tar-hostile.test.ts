/** Damaged and hostile archives: every one must fail loudly, naming the archive and the place. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { readTar } from '../toolchain/tar/reader.ts';
import { encodeTar, paxRecord, type TarWriteMember } from '../toolchain/tar/writer.ts';
import { oneChunk, randomChunks, readAll, rejection } from './helpers/tar-chunks.ts';

const LABEL = 'layer sha256:abcd';

async function failure(archive: Buffer | AsyncIterable<Buffer>): Promise<BadInputError> {
  const error = await rejection(readAll(Buffer.isBuffer(archive) ? oneChunk(archive) : archive, LABEL));
  assert.instance(error, BadInputError);
  assert.ok(error.message.startsWith(`${LABEL}: `), error.message);
  return error as BadInputError;
}

const file = (path: string, data: string | Buffer, raw?: TarWriteMember['raw']): TarWriteMember => ({
  entry: { path, type: 'file' },
  data: typeof data === 'string' ? Buffer.from(data) : data,
  raw,
});

test('stream ending mid-body: truncated, naming the entry', async () => {
  const archive = encodeTar([file('a', 'x'), file('victim', Buffer.alloc(5000, 1))]);
  const error = await failure(archive.subarray(0, 512 * 3 + 100));
  assert.match(error.message, /^layer sha256:abcd: truncated .*'victim'/);
});

test('stream ending mid-body is detected even when the consumer skips the body', async () => {
  const archive = encodeTar([file('victim', Buffer.alloc(5000, 1))]);
  const iterator = readTar(oneChunk(archive.subarray(0, 2000)), LABEL);
  const first = await iterator.next();
  assert.is(first.done, false);
  const error = await rejection(iterator.next());
  assert.match(error.message, /^layer sha256:abcd: truncated tar archive in the body of 'victim' \(3512 bytes missing\)/);
});

test('hostile names cannot break the one-line error message', async () => {
  const archive = encodeTar([file('evil\n\x1b[31mname', Buffer.alloc(2000))]);
  const error = await failure(archive.subarray(0, 1000));
  assert.not.match(error.message, /[\n\x1b]/);
  assert.ok(error.message.includes("'evil\\x0a\\x1b[31mname'"), error.message);
});

test('stream ending mid-header or mid-padding: truncated', async () => {
  const archive = encodeTar([file('a', 'xyz'), file('b', 'x')]);
  assert.match((await failure(archive.subarray(0, 1024 + 300))).message, /truncated tar archive in the header at offset 1024 \(after the entry 'a'\)/);
  assert.match((await failure(archive.subarray(0, 600))).message, /truncated tar archive in the padding after 'a'/);
});

test('PAX header or GNU long name followed by end of archive: truncated', async () => {
  const withPax = encodeTar([file('x'.repeat(150), 'data')], { end: false }).subarray(0, 1024);
  assert.match((await failure(withPax)).message, /truncated .*PAX header at offset 0/);
  assert.match((await failure(Buffer.concat([withPax, Buffer.alloc(1024)]))).message, /truncated tar archive after the PAX header at offset 0: no entry follows it/);
  const withL = encodeTar([file('y'.repeat(150), 'data', { gnuLongNames: true })], { end: false }).subarray(0, 1024);
  assert.match((await failure(withL)).message, /GNU long name at offset 0/);
});

test('EOF at a block boundary, or after one zero block, is a clean end', async () => {
  const body = encodeTar([file('a', 'x'), file('b', 'y')], { end: false });
  for (const archive of [body, Buffer.concat([body, Buffer.alloc(512)]), Buffer.concat([body, Buffer.alloc(512 + 100)])]) {
    const read = await readAll(oneChunk(archive));
    assert.equal(read.map((m) => m.entry.path), ['a', 'b']);
  }
});

test('a lone zero block followed by another header is refused', async () => {
  const archive = Buffer.concat([encodeTar([file('a', 'x')], { end: false }), Buffer.alloc(512), encodeTar([file('hidden', 'y')])]);
  assert.match((await failure(archive)).message, /lone zero block at offset 1024/);
});

test('bad checksum names the offset', async () => {
  const archive = encodeTar([file('a', 'x'), file('b', 'y', { badChecksum: true })]);
  assert.match((await failure(archive)).message, /^layer sha256:abcd: offset 1024: tar header checksum mismatch/);
  assert.match((await failure(Buffer.alloc(512, 0x41))).message, /offset 0: tar header checksum mismatch/);
});

test('PAX, global PAX and GNU long-name records over 1 MiB are refused without being buffered', async () => {
  for (const typeflag of ['x', 'g', 'L', 'K']) {
    const archive = encodeTar([file('meta', Buffer.alloc(0), { typeflag, declaredSize: 1024 * 1024 + 1 })], { end: false });
    let pulled = 0;
    // The body is never supplied: the reader must give up on the size alone.
    const source = (async function* () {
      pulled++;
      yield archive;
      throw new Error('reader asked for the oversized record body');
    })();
    const error = await failure(source);
    assert.match(error.message, /offset 0 is 1048577 bytes/, typeflag);
    assert.is(pulled, 1);
  }
});

test('many global PAX headers cannot pile up unbounded metadata', async () => {
  const parts: Buffer[] = [];
  for (let i = 0; i < 5; i++) {
    const records = paxRecord(`SCHILY.xattr.user.${i}`, Buffer.alloc(300_000));
    parts.push(encodeTar([file('PaxHeaders/g', records, { typeflag: 'g' })], { end: false }));
  }
  parts.push(encodeTar([file('a', 'x')]));
  assert.match((await failure(Buffer.concat(parts))).message, /PAX metadata adds up to more than/);
});

test('unknown typeflags are refused, naming entry and type; V labels are skipped', async () => {
  for (const [flag, shown] of [['X', "'X'"], ['M', "'M'"], ['A', "'A'"], ['\x01', '0x01']]) {
    const error = await failure(encodeTar([file('a', 'x'), file('weird', 'data', { typeflag: flag })]));
    assert.ok(error.message.includes(`'weird' at offset 1024 has unsupported tar entry type ${shown}`), error.message);
  }
  const labelled = encodeTar([file('Volume 1', '', { typeflag: 'V' }), file('a', 'x')]);
  assert.equal((await readAll(oneChunk(labelled))).map((m) => m.entry.path), ['a']);
});

test('header-only types never carry data, whatever their size field says (as Go archive/tar)', async () => {
  // A symlink claiming 512 bytes of "data" that is really the next header.
  const archive = encodeTar([
    { entry: { path: 'link', type: 'symlink', linkname: 't' }, raw: { declaredSize: 512 } },
    file('next', 'visible'),
  ]);
  const read = await readAll(oneChunk(archive));
  assert.equal(read.map((m) => [m.entry.path, m.entry.size]), [['link', 0], ['next', 7]]);
});

test('v7 directory convention: typeflag NUL with a trailing slash, no data', async () => {
  const archive = encodeTar([{ entry: { path: 'd/', type: 'file' }, raw: { typeflag: '\0', declaredSize: 512 } }, file('d/f', 'x')]);
  const read = await readAll(oneChunk(archive));
  assert.equal(read.map((m) => [m.entry.path, m.entry.type]), [['d/', 'directory'], ['d/f', 'file']]);
});

test('negative or malformed numeric fields are refused', async () => {
  const archive = encodeTar([file('a', 'x')]);
  const negative = Buffer.from(archive);
  negative.fill(0xff, 124, 136);
  fixChecksum(negative);
  assert.match((await failure(negative)).message, /offset 0: negative size/);
  const junk = Buffer.from(archive);
  junk.write('12x45670', 108, 'latin1');
  fixChecksum(junk);
  assert.match((await failure(junk)).message, /offset 0: bad uid field/);
});

function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

test('unconsumed bodies are drained; reading a stale body throws', async () => {
  const archive = encodeTar([file('a', Buffer.alloc(3000, 1)), file('b', 'bee'), file('c', 'sea')]);
  const iterator = readTar(randomChunks(archive, 99, 700), LABEL);
  const a = (await iterator.next()).value!;
  const partial = a.body[Symbol.asyncIterator]();
  await partial.next(); // read a little of 'a', then move on
  const b = (await iterator.next()).value!;
  assert.is(b.entry.path, 'b');
  await rejection(partial.next()).then((e) => assert.match(e.message, /read after moving to the next member/));
  const c = (await iterator.next()).value!;
  const chunks: Buffer[] = [];
  for await (const chunk of c.body) chunks.push(chunk);
  assert.is(Buffer.concat(chunks).toString(), 'sea');
  assert.ok((await iterator.next()).done);
});

test('a body cannot be iterated twice', async () => {
  const archive = encodeTar([file('a', 'abc')]);
  for await (const { body } of readTar(oneChunk(archive), LABEL)) {
    for await (const chunk of body) void chunk;
    assert.throws(() => body[Symbol.asyncIterator](), /iterated twice/);
  }
});

test('stopping early releases the source', async () => {
  let released = false;
  const archive = encodeTar([file('a', 'x'), file('b', 'y')]);
  const source = (async function* () {
    try {
      yield archive.subarray(0, 1024);
      yield archive.subarray(1024);
    } finally {
      released = true;
    }
  })();
  for await (const member of readTar(source, LABEL)) {
    assert.is(member.entry.path, 'a');
    break;
  }
  assert.ok(released);
});

test('after the end marker the rest of the source is drained (so digests can be checked)', async () => {
  let finished = false;
  const archive = Buffer.concat([encodeTar([file('a', 'x')]), Buffer.alloc(8192)]);
  const source = (async function* () {
    yield* randomChunks(archive, 4, 1000);
    finished = true;
  })();
  await readAll(source);
  assert.ok(finished);
});

test('random chunk splitting never changes the result (1 byte .. 64 KiB chunks)', async () => {
  const members: TarWriteMember[] = [];
  for (let i = 0; i < 30; i++) {
    const data = Buffer.alloc((i * 7919) % 20000);
    for (let j = 0; j < data.length; j++) data[j] = (i + j * 31) & 0xff;
    members.push(file(`f${i}-${'n'.repeat(i * 7)}`, data, i % 3 === 0 ? { gnuLongNames: true } : undefined));
  }
  const archive = encodeTar(members);
  const expected = await readAll(oneChunk(archive));
  assert.is(expected.length, 30);
  for (let seed = 0; seed < 25; seed++) {
    const read = await readAll(randomChunks(archive, seed, seed % 2 === 0 ? 16 : 65536));
    assert.equal(read.map((m) => [m.entry, m.sha256]), expected.map((m) => [m.entry, m.sha256]), `seed ${seed}`);
  }
});

test('sources yielding strings are refused rather than re-encoded', async () => {
  const source = (async function* () {
    yield 'not a buffer' as unknown as Buffer;
  })();
  const error = await rejection(readAll(source));
  assert.match(error.message, /must yield Buffers/);
});

test.run();
