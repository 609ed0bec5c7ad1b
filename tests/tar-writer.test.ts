import { readFileSync, lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { TarEntry } from '../toolchain/tar/entry.ts';
import { encodeTar, type TarWriteMember } from '../toolchain/tar/writer.ts';
import { oneChunk, randomChunks, readAll } from './helpers/tar-chunks.ts';
import { getfattrHex, run } from './helpers/tar-gnu.ts';
import { tempDir } from './helpers/places.ts';

const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const BINARY = Buffer.from([0x00, 0x0a, 0x3d, 0xff, 0xfe, 0x80]);
const LONG = `${'a'.repeat(99)}/${'b'.repeat(99)}/${'c'.repeat(99)}`;

function fullEntry(e: TarWriteMember['entry'], data?: Buffer): TarEntry {
  const isFile = e.type === 'file';
  return {
    mode: e.type === 'directory' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    mtime: 0,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: new Map(),
    ...e,
    size: isFile ? (data?.length ?? 0) : 0,
  };
}

const members: TarWriteMember[] = [
  { entry: { path: 'dir/', type: 'directory', mode: 0o1777, mtime: 1234567890 } },
  { entry: { path: 'dir/empty', type: 'file' }, data: Buffer.alloc(0) },
  { entry: { path: 'dir/one', type: 'file', mode: 0o4755 }, data: Buffer.from('x') },
  { entry: { path: 'dir/511', type: 'file' }, data: Buffer.alloc(511, 1) },
  { entry: { path: 'dir/512', type: 'file' }, data: Buffer.alloc(512, 2) },
  { entry: { path: 'dir/513', type: 'file' }, data: Buffer.alloc(513, 3) },
  { entry: { path: 'dir/big', type: 'file', uid: 3_000_000, gid: 123456, mtime: -100 }, data: Buffer.alloc(100_000, 4) },
  {
    entry: { path: 'dir/cap', type: 'file', mode: 0o755, xattrs: new Map([['security.capability', CAP], ['user.bin', BINARY], ['user.empty', Buffer.alloc(0)]]) },
    data: Buffer.from('\x7fELF', 'latin1'),
  },
  { entry: { path: LONG, type: 'file', mtime: 2 ** 40 }, data: Buffer.from('long name') },
  { entry: { path: 'dir/caf\u00c3\u00a9', type: 'file' }, data: Buffer.from('utf-8 name as bytes') },
  { entry: { path: 'dir/bad\u00ff\u00fe', type: 'file' }, data: Buffer.from('invalid utf-8') },
  { entry: { path: 'dir/hard', type: 'hardlink', linkname: LONG } },
  { entry: { path: 'dir/sym', type: 'symlink', linkname: '../caf\u00c3\u00a9' } },
  { entry: { path: 'dir/fifo', type: 'fifo', mode: 0o600 } },
  { entry: { path: 'dir/pty', type: 'chardev', devmajor: 136, devminor: 300 } },
  { entry: { path: 'dir/loop', type: 'blockdev', devmajor: 7, devminor: 0 } },
  { entry: { path: '/abs/../escape', type: 'file' }, data: Buffer.from('hostile names pass through') },
];

test('writer output is deterministic', () => {
  assert.ok(encodeTar(members).equals(encodeTar(members)));
});

test('writer -> reader round trip, through random chunk boundaries', async () => {
  const archive = encodeTar(members);
  for (const source of [oneChunk(archive), randomChunks(archive, 21, 300), randomChunks(archive, 22, 1)]) {
    const read = await readAll(source);
    assert.equal(
      read.map((m) => m.entry),
      members.map((m) => fullEntry(m.entry, m.data)),
    );
    read.forEach((m, i) => assert.ok(m.data.equals(members[i]!.data ?? Buffer.alloc(0)), `body of member ${i}`));
  }
});

test('GNU long names from the writer round trip', async () => {
  const archive = encodeTar(
    [
      { entry: { path: LONG, type: 'file' }, data: Buffer.from('x'), raw: { gnuLongNames: true } },
      { entry: { path: 'l', type: 'symlink', linkname: LONG }, raw: { gnuLongNames: true } },
    ],
  );
  assert.not.ok(archive.includes('PaxHeaders'));
  const read = await readAll(randomChunks(archive, 3, 64));
  assert.equal(read.map((m) => [m.entry.path, m.entry.linkname]), [[LONG, ''], ['l', LONG]]);
});

test('GNU tar lists writer output and extracts it with byte-exact xattrs', () => {
  const dir = tempDir('tar-writer');
  const archive = encodeTar(members.filter((m) => !m.entry.path.startsWith('/')));
  const listing = run('tar', ['-tvf', '-', '--numeric-owner'], { input: archive }).toString('latin1');
  assert.match(listing, /-rwsr-xr-x 0\/0 +1 1970-01-01 00:00 dir\/one/);
  assert.match(listing, /3000000\/123456 +100000 1969-12-31 23:58 dir\/big/);
  assert.match(listing, /crw-r--r-- 0\/0 +136,300 /);
  assert.ok(listing.includes(LONG), 'long PAX path understood');
  run('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '-xpf', '-', '-C', dir], { input: archive });
  const xattrs = getfattrHex(join(dir, 'dir/cap'));
  assert.ok(xattrs.get('security.capability')!.equals(CAP), 'capability restored byte-exact');
  assert.ok(xattrs.get('user.bin')!.equals(BINARY), 'binary xattr restored byte-exact');
  assert.is(readFileSync(join(dir, LONG), 'utf8'), 'long name');
  assert.is(lstatSync(join(dir, 'dir/big')).uid, 3_000_000);
  assert.is(lstatSync(join(dir, 'dir/hard')).ino, lstatSync(join(dir, LONG)).ino);
  assert.is(readlinkSync(join(dir, 'dir/sym')), '../café');
  assert.is(lstatSync(join(dir, 'dir')).mode & 0o7777, 0o1777);
});

test('raw options produce the requested damage', async () => {
  const archive = encodeTar([{ entry: { path: 'f', type: 'file' }, data: Buffer.from('abc'), raw: { typeflag: 'Z', declaredSize: 9 } }], { end: false });
  assert.is(archive.length, 1024);
  assert.is(String.fromCharCode(archive[156]!), 'Z');
  assert.is(archive.toString('latin1', 124, 135), '00000000011');
});

test.run();
