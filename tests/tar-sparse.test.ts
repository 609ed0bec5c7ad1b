/**
 * GNU sparse files in all four encodings GNU tar writes, checked against the
 * real files: expanded size and content must match, and bodies must come in
 * bounded chunks however large the holes are.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readTar } from '../toolchain/tar/reader.ts';
import { encodeTar } from '../toolchain/tar/writer.ts';
import { oneChunk, randomChunks, readAll, rejection } from './helpers/tar-chunks.ts';
import { run, sha256File } from './helpers/tar-gnu.ts';
import { tempDir } from './helpers/places.ts';

const root = tempDir('tar-sparse');

const GiB = 1024 ** 3;

/** Sparse file: logical size, data written at given offsets (each write lands in its own fs block). */
function sparseFile(name: string, size: number, writes: Array<[offset: number, data: string]>): void {
  const path = join(root, 'sp', name);
  run('truncate', ['-s', String(size), path]);
  const fd = openSync(path, 'r+');
  for (const [offset, data] of writes) writeSync(fd, Buffer.from(data), 0, data.length, offset);
  closeSync(fd);
}

function buildFixtures(): void {
  run('mkdir', ['-p', join(root, 'sp')]);
  sparseFile('holey', 3 * 1024 * 1024, [[100_000, 'hello'], [2_000_000, 'world']]);
  sparseFile('data-at-end', 1024 * 1024, [[1024 * 1024 - 3, 'end']]);
  sparseFile('data-at-start', 1024 * 1024, [[0, 'start']]);
  sparseFile('all-hole', 2 * 1024 * 1024, []);
  // 40 segments: more than the 4 in an old GNU header plus one 21-entry extension block.
  sparseFile('many', 40 * 65536, Array.from({ length: 40 }, (_, i): [number, string] => [i * 65536 + 7, `segment ${i}`]));
  // Past 8 GiB: the size needs base-256 (gnu) or PAX (pax) encoding.
  sparseFile('big', 9 * GiB, [[0, 'head'], [9 * GiB - 4, 'tail']]);
  run('touch', ['-d', '@1700000000', ...['holey', 'data-at-end', 'data-at-start', 'all-hole', 'many', 'big'].map((n) => join(root, 'sp', n))]);
}

buildFixtures();

const SMALL = ['holey', 'data-at-end', 'data-at-start', 'all-hole', 'many'];
const expected = new Map(SMALL.map((name) => [name, sha256File(join(root, 'sp', name))]));

const variants: Array<[string, string[]]> = [
  ['pax 0.0', ['--format=pax', '--sparse', '--sparse-version=0.0']],
  ['pax 0.1', ['--format=pax', '--sparse', '--sparse-version=0.1']],
  ['pax 1.0', ['--format=pax', '--sparse', '--sparse-version=1.0']],
  ['old gnu (type S)', ['--format=gnu', '--sparse']],
];

for (const [label, flags] of variants) {
  test(`${label}: expanded content matches the real sparse files`, async () => {
    const archive = run('tar', [...flags, '-C', join(root, 'sp'), '-cf', '-', ...SMALL]);
    // The fixture must really be sparse: 13 MiB of logical data in a few KiB.
    assert.ok(archive.length < 200 * 1024, `archive is ${archive.length} bytes; GNU tar did not store it sparse`);
    if (label.startsWith('old gnu')) assert.is(String.fromCharCode(archive[156]!), 'S');
    const members = await readAll(randomChunks(archive, 5, 2000));
    assert.equal(members.map((m) => m.entry.path), SMALL, 'real names, not GNUSparseFile.PID placeholders');
    for (const m of members) {
      const name = m.entry.path;
      assert.is(m.entry.type, 'file');
      assert.is(m.entry.size, statSync(join(root, 'sp', name)).size, `size of ${name}`);
      assert.is(m.data.length, m.entry.size, `expanded length of ${name}`);
      assert.is(m.sha256, expected.get(name), `content of ${name}`);
      assert.is(m.entry.mode, 0o644);
      assert.is(m.entry.mtime, 1700000000);
      assert.ok(m.maxChunk <= 1024 * 1024, `chunks of ${name} are bounded (${m.maxChunk})`);
    }
  });

  test(`${label}: a 9 GiB sparse file has the right size and streams in bounded chunks`, async () => {
    const archive = run('tar', [...flags, '-C', join(root, 'sp'), '-cf', '-', 'big', 'holey']);
    const seen: string[] = [];
    for await (const { entry, body } of readTar(randomChunks(archive, 9), 'big')) {
      seen.push(entry.path);
      if (entry.path !== 'big') continue;
      assert.is(entry.size, 9 * GiB);
      // Read the head and a few MiB of hole, then leave the rest to the automatic skip.
      const hash = createHash('sha256');
      let read = 0;
      for await (const chunk of body) {
        assert.ok(chunk.length <= 1024 * 1024);
        hash.update(chunk);
        read += chunk.length;
        if (read >= 4 * 1024 * 1024) break;
      }
      assert.ok(read >= 4 * 1024 * 1024);
    }
    assert.equal(seen, ['big', 'holey'], 'the member after an abandoned sparse body is still found');
  });
}

test('sparse map that does not add up to the stored data is refused', async () => {
  const archive = encodeTar([
    {
      entry: { path: 'f', type: 'file' },
      data: Buffer.from('abc'),
      raw: { pax: [['GNU.sparse.size', '100'], ['GNU.sparse.map', '0,2,50,2']] },
    },
  ]);
  const error = await rejection(readAll(oneChunk(archive), 'layer x'));
  assert.match(error.message, /layer x: 'f' .*sparse map describes 4 bytes but 3 are stored/);
});

test('overlapping or out-of-file sparse segments are refused', async () => {
  for (const map of ['0,2,1,1', '99,3']) {
    const archive = encodeTar([
      {
        entry: { path: 'f', type: 'file' },
        data: Buffer.from('abc'),
        raw: { pax: [['GNU.sparse.size', '100'], ['GNU.sparse.map', map]] },
      },
    ]);
    const error = await rejection(readAll(oneChunk(archive)));
    assert.match(error.message, /sparse map/, map);
  }
});

test('a hostile sparse 1.0 segment count is refused before anything is allocated', async () => {
  const mapText = Buffer.alloc(512);
  mapText.write('99999999999\n');
  const archive = encodeTar([
    {
      entry: { path: 'f', type: 'file' },
      data: mapText,
      raw: { pax: [['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.realsize', '10']] },
    },
  ]);
  const error = await rejection(readAll(oneChunk(archive)));
  assert.match(error.message, /too many segments/);
});

test.run();
