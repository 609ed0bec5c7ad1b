/**
 * Our writer against real GNU cpio (Debian's `cpio`): what we write must list
 * and extract exactly, including hardlinks with data on the first name, and
 * GNU's own archives must read back and re-encode to identical bytes.
 * Extraction makes device nodes and sets owners, so it needs root.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { lstatSync, readFileSync, readlinkSync, rmSync, writeFileSync, mkdirSync, linkSync, symlinkSync, utimesSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { makeMode } from '../toolchain/cpio/file-mode.ts';
import type { CpioHeader } from '../toolchain/cpio/newc-header.ts';
import { readNewc } from '../toolchain/cpio/newc-reader.ts';
import { NewcWriter, writeNewc, type NewcEntry } from '../toolchain/cpio/newc-writer.ts';
import { textToByteString, type ByteString } from '../toolchain/paths/byte-string.ts';
import { tempDir } from './helpers/places.ts';

const isRoot = process.getuid?.() === 0;
const MTIME = 1700000000;
const OWNER = 123456;

function header(type: Parameters<typeof makeMode>[0], perm: number, ino: number, filesize = 0, extra: Partial<CpioHeader> = {}): CpioHeader {
  return {
    ino, mode: makeMode(type, perm), uid: OWNER, gid: OWNER, nlink: type === 'directory' ? 2 : 1, mtime: MTIME,
    filesize, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0, ...extra,
  };
}

/** Deterministic pseudo-random bytes, so a wrong offset cannot go unnoticed. */
function bytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Splits into uneven chunks so body streaming across chunk edges is exercised. */
function chunks(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, step = 1; i < buf.length; i += step, step = step * 3 + 1) out.push(buf.subarray(i, i + step));
  return out;
}

const UTF8_NAME = textToByteString('dir/héllo-ünïcödé-日本');
const INVALID_UTF8_NAME: ByteString = 'dir/bad-\xff\xfe-latin1-\xe9';
const BIG = bytes(100_003, 1);
const SHARED = bytes(4097, 2);

interface Fixture extends NewcEntry {
  content?: Buffer;
}

function fixture(): Fixture[] {
  const file = (name: ByteString, perm: number, ino: number, content: Buffer, extra: Partial<CpioHeader> = {}): Fixture => ({
    name, header: header('file', perm, ino, content.length, extra), body: chunks(content), content,
  });
  return [
    { name: '.', header: header('directory', 0o755, 1) },
    { name: 'dir', header: header('directory', 0o750, 2) },
    { name: 'tmp', header: header('directory', 0o1777, 3) },
    file('dir/empty', 0o644, 4, Buffer.alloc(0)),
    file('dir/one', 0o600, 5, Buffer.from('x')),
    file('dir/three', 0o644, 6, Buffer.from('abc')),
    file('dir/big', 0o644, 7, BIG),
    file('setuid', 0o4755, 8, Buffer.from('#!/bin/sh\n')),
    file('setgid', 0o2711, 9, Buffer.from('ab')),
    file(UTF8_NAME, 0o644, 10, Buffer.from('utf8')),
    file(INVALID_UTF8_NAME, 0o644, 11, Buffer.from('not utf8')),
    { name: 'link', header: header('symlink', 0o777, 12, 'dir/three'.length), body: [Buffer.from('dir/three')] },
    { name: 'dangling', header: header('symlink', 0o777, 13, 5), body: [Buffer.from('/nope')] },
    file('hl-a', 0o640, 14, SHARED, { nlink: 3 }),
    { name: 'dir/hl-b', header: header('file', 0o640, 14, 0, { nlink: 3 }) },
    { name: 'hl-c', header: header('file', 0o640, 14, 0, { nlink: 3 }) },
    file('hl2-x', 0o644, 15, Buffer.from('second group'), { nlink: 2 }),
    { name: 'hl2-y', header: header('file', 0o644, 15, 0, { nlink: 2 }) },
    { name: 'null', header: header('chardev', 0o666, 16, 0, { rdevmajor: 1, rdevminor: 3 }) },
    { name: 'sda1', header: header('blockdev', 0o660, 17, 0, { rdevmajor: 8, rdevminor: 1 }) },
    { name: 'fifo', header: header('fifo', 0o620, 18) },
  ];
}

/** uvu/assert has no rejects(). */
async function rejects(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert.match(String((error as Error).message), pattern);
    return;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

async function* from(buf: Buffer, step = 7919): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += step) yield buf.subarray(i, i + step);
}

let archive: Buffer = Buffer.alloc(0);
let work = '';

test.before(async () => {
  work = tempDir('cpio-gnu');
  archive = await collect(writeNewc(fixture()));
});

test.after(() => {
  rmSync(work, { recursive: true, force: true });
});

test('total length is a multiple of 512 and entries are 4-byte aligned', async () => {
  assert.is(archive.length % 512, 0);
  for await (const entry of readNewc(from(archive), 'ours')) {
    assert.is(entry.offset % 4, 0, `${entry.name} header offset`);
    for await (const _ of entry.body); // eslint-style no-op: body left for the reader to skip
  }
});

test('GNU cpio -t -v lists every entry with modes, numeric owners, sizes and devices', () => {
  const out = execFileSync('cpio', ['-t', '-v', '--numeric-uid-gid', '--quiet'], { input: archive, env: { ...process.env, LC_ALL: 'C', TZ: 'UTC' } });
  const lines = out.toString('latin1').trimEnd().split('\n');
  const want = fixture();
  assert.is(lines.length, want.length);
  // "<mode> <nlink> <uid> <gid> <size or maj, min> <Mon dd  yyyy> <name>[ -> target]"
  const nameOf = (line: string) => line.replace(/ -> .*$/, '').match(/^.*? [A-Z][a-z]{2} [ \d]\d +\d{4} (.*)$/)?.[1] ?? line;
  const byName = new Map(lines.map((line) => [nameOf(line), line]));
  const line = (name: ByteString) => {
    const found = byName.get(name);
    assert.ok(found, `listing has ${JSON.stringify(name)}:\n${lines.join('\n')}`);
    return found!;
  };
  assert.match(line('dir/big'), new RegExp(`^-rw-r--r-- +1 ${OWNER} +${OWNER} +100003 Nov 14 +2023 `));
  assert.match(line('setuid'), /^-rwsr-xr-x /);
  assert.match(line('setgid'), /^-rwx--s--x /);
  assert.match(line('tmp'), /^drwxrwxrwt /);
  assert.match(line('null'), /^crw-rw-rw- .* 1, +3 /);
  assert.match(line('sda1'), /^brw-rw---- .* 8, +1 /);
  assert.match(line('fifo'), /^prw--w---- /);
  assert.match(line('hl-a'), /^-rw-r----- +3 /);
  assert.match(lines.find((l) => l.includes(' link -> '))!, /^lrwxrwxrwx .* link -> dir\/three$/);
  line(UTF8_NAME);
  line(INVALID_UTF8_NAME);
});

test('GNU cpio -i reproduces contents, modes, owners, times, links and devices', () => {
  if (!isRoot) {
    console.warn('skipped: extraction with device nodes and owners needs root');
    return;
  }
  const dest = join(work, 'extract');
  mkdirSync(dest);
  const run = spawnSync('cpio', ['-i', '-d', '--no-absolute-filenames', '--preserve-modification-time', '--quiet'], { cwd: dest, input: archive });
  assert.is(run.status, 0, run.stderr.toString());
  const path = (name: ByteString) => join(dest, Buffer.from(name, 'latin1').toString('latin1'));
  // Names with non-UTF-8 bytes must be passed to fs as Buffers.
  const pathBytes = (name: ByteString) => Buffer.concat([Buffer.from(dest + '/'), Buffer.from(name, 'latin1')]);
  for (const entry of fixture()) {
    if (entry.name === '.') continue;
    const st = lstatSync(pathBytes(entry.name) as unknown as string);
    const h = entry.header;
    assert.is(st.mode, h.mode, `${entry.name} mode`);
    assert.is(st.uid, OWNER, `${entry.name} uid`);
    assert.is(st.gid, OWNER, `${entry.name} gid`);
    if ((h.mode & 0o170000) === 0o100000) {
      assert.is(Math.floor(st.mtimeMs / 1000), MTIME, `${entry.name} mtime`);
      const expected = h.ino === 14 ? SHARED : h.ino === 15 ? Buffer.from('second group') : entry.content!;
      assert.ok(readFileSync(pathBytes(entry.name) as unknown as string).equals(expected), `${entry.name} content`);
      assert.is(st.nlink, h.nlink, `${entry.name} nlink`);
    }
    if (h.rdevmajor !== 0) assert.is(st.rdev, (h.rdevmajor << 8) | h.rdevminor, `${entry.name} rdev`);
  }
  assert.is(readlinkSync(path('link')), 'dir/three');
  assert.is(readlinkSync(path('dangling')), '/nope');
  const ino = lstatSync(path('hl-a')).ino;
  assert.is(lstatSync(path('dir/hl-b')).ino, ino);
  assert.is(lstatSync(path('hl-c')).ino, ino);
  assert.is(lstatSync(path('hl2-y')).ino, lstatSync(path('hl2-x')).ino);
  assert.is.not(lstatSync(path('hl2-x')).ino, ino);
});

test('our reader gives back every header, name and body', async () => {
  const want = fixture();
  let i = 0;
  for await (const entry of readNewc(from(archive, 333), 'ours')) {
    const expected = want[i++]!;
    assert.is(entry.name, expected.name);
    const { magic, namesize, check, ...fields } = entry.header;
    assert.equal(fields, expected.header);
    assert.is(namesize, Buffer.byteLength(expected.name, 'latin1') + 1);
    assert.is(check, 0);
    const body = await collect(entry.body);
    assert.ok(body.equals(Buffer.concat(expected.body ? [...(expected.body as Buffer[])] : [])), `${expected.name} body`);
  }
  assert.is(i, want.length);
});

/** A tree on disk, archived by GNU cpio, for byte-exact comparison. */
function gnuArchive(withHardlink: boolean): Buffer {
  const src = join(work, withHardlink ? 'src-hl' : 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  writeFileSync(join(src, 'd', 'f'), 'hello');
  writeFileSync(join(src, 'odd'), BIG.subarray(0, 1001));
  writeFileSync(Buffer.from(join(src, 'n\xe9\xff'), 'latin1') as unknown as string, '');
  symlinkSync('d/f', join(src, 's'));
  chmodSync(join(src, 'odd'), 0o4711);
  if (withHardlink) linkSync(join(src, 'd', 'f'), join(src, 'h'));
  for (const name of ['d/f', 'odd', 'd', '.']) utimesSync(join(src, name), MTIME, MTIME);
  const list = execFileSync('find', ['.', '-print0'], { cwd: src });
  return execFileSync('cpio', ['-o', '-H', 'newc', '--null', '--quiet', '--reproducible'], { cwd: src, input: list });
}

test('re-encoding a GNU cpio archive with our writer gives identical bytes', async () => {
  const gnu = gnuArchive(false);
  const entries: NewcEntry[] = [];
  for await (const entry of readNewc(from(gnu), 'gnu')) {
    const { magic, namesize, check, ...fields } = entry.header;
    entries.push({ header: fields, name: entry.name, body: [await collect(entry.body)] });
  }
  assert.ok(entries.length >= 6);
  const ours = await collect(writeNewc(entries));
  assert.is(ours.length, gnu.length);
  assert.ok(ours.equals(gnu), 'byte-identical to GNU cpio');
});

test("GNU cpio's hardlink order (data on the last name) is refused, not silently mixed", async () => {
  const gnu = gnuArchive(true);
  const entries: NewcEntry[] = [];
  for await (const entry of readNewc(from(gnu), 'gnu')) {
    const { magic, namesize, check, ...fields } = entry.header;
    entries.push({ header: fields, name: entry.name, body: [await collect(entry.body)] });
  }
  const linked = entries.filter((e) => e.header.nlink === 2 && (e.header.mode & 0o170000) === 0o100000);
  assert.is(linked.length, 2);
  assert.is(linked[0]!.header.filesize, 0, 'GNU puts the data on the last name');
  await rejects(() => collect(writeNewc(entries)), /only the first name of a hardlink group may carry data/);
});

test('writer refuses bodies that do not match filesize, and other misuse', async () => {
  const h = header('file', 0o644, 1, 4);
  await rejects(() => collect(writeNewc([{ name: 'short', header: h, body: [Buffer.from('abc')] }])), /3|1 bytes short/);
  await rejects(() => collect(writeNewc([{ name: 'long', header: h, body: [Buffer.from('abcde')] }])), /more data than/);
  await rejects(() => collect(writeNewc([{ name: 'none', header: h }])), /4 bytes short/);
  await rejects(() => collect(writeNewc([{ name: 'TRAILER!!!', header: header('file', 0o644, 1) }])), /TRAILER/);
  await rejects(() => collect(writeNewc([{ name: 'a\0b', header: header('file', 0o644, 1) }])), /NUL/);
  await rejects(() => collect(writeNewc([{ name: 'x'.repeat(4096), header: header('file', 0o644, 1) }])), /at most 4095/);
  await rejects(() => collect(writeNewc([{ name: 'd', header: { ...header('directory', 0o755, 1), filesize: 1 }, body: [Buffer.from('x')] }])), /only files and symlinks/);
  await rejects(() => collect(writeNewc([{ name: 'notype', header: { ...header('file', 0o644, 1), mode: 0o644 } }])), /file type/);
  await rejects(() => collect(writeNewc([{ name: 'huge', header: header('file', 0o644, 1, 2 ** 32) }])), /4 GiB or more; use --rootfs ext4/);
  // A group promising 3 names but delivering 2.
  const group = [
    { name: 'a', header: header('file', 0o644, 9, 1, { nlink: 3 }), body: [Buffer.from('z')] },
    { name: 'b', header: header('file', 0o644, 9, 0, { nlink: 3 }) },
  ];
  await rejects(() => collect(writeNewc(group)), /nlink 3 but 2 names/);
});

test('NewcWriter tracks the offset and pads each part to 4 bytes', () => {
  const w = new NewcWriter();
  const head = w.entry(header('file', 0o644, 1, 5), 'abc');
  assert.is(head.length, 116); // 110 + "abc\0" = 114, padded to 116
  assert.is(w.offset, 116);
  w.body(Buffer.from('hel'));
  w.body(Buffer.from('lo'));
  assert.is(w.endBody().length, 3);
  assert.is(w.offset, 124);
  const trailer = w.trailer();
  assert.is(w.offset, 512);
  assert.is(124 + trailer.length, 512);
  assert.throws(() => w.entry(header('file', 0o644, 2), 'late'), /after TRAILER/);
});

test.run();
