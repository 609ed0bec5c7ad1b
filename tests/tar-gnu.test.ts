/**
 * Cross-checks readTar against real GNU tar archives of a real tree: every
 * entry readTar yields must match what lstat/readlink/getfattr say about the
 * file it came from, and every file must appear.
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync, writeFileSync, mkdirSync, linkSync, symlinkSync, chmodSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bytesToByteString, displayPath, type ByteString } from '../toolchain/paths/byte-string.ts';
import type { TarEntryType } from '../toolchain/tar/entry.ts';
import { oneChunk, randomChunks, readAll, type ReadMember } from './helpers/tar-chunks.ts';
import { getfattrHex, hasTool, run } from './helpers/tar-gnu.ts';
import { tempDir } from './helpers/places.ts';

const root = tempDir('tar-gnu');

const LONG_DIR = `long-${'d'.repeat(90)}/${'e'.repeat(60)}`;
const LONG_NAME_1 = `${'n'.repeat(120)}-one`;
const LONG_NAME_2 = `${'n'.repeat(120)}-two`;
const LONG_TARGET = `${'t/'.repeat(70)}target`;
const BINARY_XATTR = Buffer.from([0x00, 0xff, 0x0a, 0x3d, 0x80, 0x0d, 0x20]);

function p(...parts: string[]): string {
  return join(root, ...parts);
}

/** Full tree: needs pax or gnu format (long names, big ids, devices, xattrs). */
function buildFullTree(): void {
  const t = (...parts: string[]): string => p('full', ...parts);
  mkdirSync(t('sub', 'deeper'), { recursive: true });
  mkdirSync(t(LONG_DIR), { recursive: true });
  writeFileSync(t('empty'), '');
  writeFileSync(t('hello.txt'), 'hello, world\n');
  writeFileSync(t('block512'), Buffer.alloc(512, 0x61));
  const random = Buffer.alloc(1_000_003);
  for (let i = 0; i < random.length; i++) random[i] = (i * 2654435761) >>> 24;
  writeFileSync(t('sub', 'random.bin'), random);
  writeFileSync(t('setuid'), '#!/bin/sh\n');
  chmodSync(t('setuid'), 0o4755);
  writeFileSync(t('setgid'), 'g');
  chmodSync(t('setgid'), 0o2711);
  mkdirSync(t('sticky'));
  chmodSync(t('sticky'), 0o1777);
  writeFileSync(t('owned'), 'uid 123456');
  chownSync(t('owned'), 123456, 654321);
  writeFileSync(t('huge-ids'), 'needs base-256 or PAX');
  chownSync(t('huge-ids'), 3_000_000, 4_000_000);
  writeFileSync(t('cap'), Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  run('setcap', ['cap_net_raw,cap_net_bind_service+ep', t('cap')]);
  run('setfattr', ['-n', 'user.binary', '-v', `0x${BINARY_XATTR.toString('hex')}`, t('cap')]);
  run('setfattr', ['-n', 'user.empty', t('cap')]);
  writeFileSync(t(LONG_DIR, LONG_NAME_1), 'long');
  linkSync(t(LONG_DIR, LONG_NAME_1), t(LONG_DIR, LONG_NAME_2));
  linkSync(t('hello.txt'), t('sub', 'hello-link'));
  symlinkSync('../hello.txt', t('sub', 'rel-symlink'));
  symlinkSync('/etc/passwd', t('abs-symlink'));
  symlinkSync(LONG_TARGET, t('long-symlink'));
  run('mkfifo', [t('fifo')]);
  run('mknod', [t('null'), 'c', '1', '3']);
  run('mknod', [t('pty'), 'c', '136', '300']);
  run('mknod', [t('loop'), 'b', '7', '0']);
  writeFileSync(Buffer.from(`${t('caf')}\xc3\xa9`, 'latin1'), 'utf-8 name');
  writeFileSync(Buffer.from(`${t('bad')}\xff\xfe`, 'latin1'), 'invalid utf-8 name');
  writeFileSync(t('old'), 'before 1970');
  // find passes the raw name bytes; Node would re-encode them as UTF-8 in argv.
  run('find', [p('full'), '-exec', 'touch', '-h', '-d', '@1600000000', '{}', '+']);
  run('touch', ['-h', '-d', '@-100', t('old')]);
}

/** What ustar and v7 can hold: short names (ustar: prefix split), small ids, no xattrs. */
function buildPlainTree(withPrefixName: boolean): string {
  const name = withPrefixName ? 'ustar' : 'v7';
  const t = (...parts: string[]): string => p(name, ...parts);
  mkdirSync(t('sub'), { recursive: true });
  writeFileSync(t('file'), 'plain file\n');
  writeFileSync(t('sub', 'data'), Buffer.alloc(70_000, 0x42));
  chmodSync(t('sub', 'data'), 0o600);
  linkSync(t('file'), t('sub', 'file-link'));
  symlinkSync('file', t('sym'));
  if (withPrefixName) {
    const deep = `${'p'.repeat(80)}/${'q'.repeat(60)}`;
    mkdirSync(t(deep), { recursive: true });
    writeFileSync(t(deep, 'r'.repeat(90)), 'split into prefix and name');
    run('mkfifo', [t('fifo')]);
    run('mknod', [t('null'), 'c', '1', '3']);
  }
  run('find', [p(name), '-exec', 'touch', '-h', '-d', '@1500000000', '{}', '+']);
  return name;
}

interface FsEntry {
  /** Archive-relative, as a byte string. */
  rel: ByteString;
  abs: string;
}

function walk(top: string, relTop = ''): FsEntry[] {
  const out: FsEntry[] = [{ rel: relTop, abs: top }];
  for (const name of readdirSync(Buffer.from(top, 'latin1'), { encoding: 'buffer' })) {
    const nameStr = bytesToByteString(name);
    const abs = `${top}/${nameStr}`;
    const rel = relTop === '' ? nameStr : `${relTop}/${nameStr}`;
    const st = lstatSync(Buffer.from(abs, 'latin1'));
    if (st.isDirectory()) out.push(...walk(abs, rel));
    else out.push({ rel, abs });
  }
  return out;
}

function fsType(abs: string): TarEntryType {
  const st = lstatSync(Buffer.from(abs, 'latin1'));
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  if (st.isFIFO()) return 'fifo';
  throw new Error(`unexpected file type at ${abs}`);
}

/**
 * Compares every member with the file it was made from. `tree` is the
 * directory that was archived; archive paths are `tree/...`.
 */
function compareWithTree(members: ReadMember[], tree: string, checkXattrs: boolean): void {
  const fsEntries = walk(p(tree), tree);
  const byPath = new Map(fsEntries.map((e) => [e.rel, e]));
  const seen = new Set<string>();
  for (const { entry, sha256 } of members) {
    // GNU tar stores directories with a trailing slash.
    const rel = entry.path.replace(/\/$/, '');
    const fsEntry = byPath.get(rel);
    const where = displayPath(entry.path);
    assert.ok(fsEntry, `archive has '${where}', which is not in the tree`);
    assert.not.ok(seen.has(rel), `'${where}' appears twice`);
    seen.add(rel);
    const bytesPath = Buffer.from(fsEntry!.abs, 'latin1');
    const st = lstatSync(bytesPath);
    assert.is(entry.mode, st.mode & 0o7777, `mode of ${where}`);
    assert.is(entry.uid, st.uid, `uid of ${where}`);
    assert.is(entry.gid, st.gid, `gid of ${where}`);
    assert.is(entry.mtime, Math.floor(st.mtimeMs / 1000), `mtime of ${where}`);
    const type = fsType(fsEntry!.abs);
    if (entry.type === 'hardlink') {
      assert.is(type, 'file', `${where} is a hardlink in the archive, so a file on disk`);
      const target = byPath.get(entry.linkname);
      assert.ok(target, `hardlink target '${displayPath(entry.linkname)}' of ${where} is in the tree`);
      assert.is(lstatSync(Buffer.from(target!.abs, 'latin1')).ino, st.ino, `hardlink ${where} points at the same inode`);
      assert.is(entry.size, 0);
      continue;
    }
    assert.is(entry.type, type, `type of ${where}`);
    if (type === 'file') {
      assert.is(entry.size, st.size, `size of ${where}`);
      assert.is(sha256, createHash('sha256').update(readFileSync(bytesPath)).digest('hex'), `content of ${where}`);
    } else {
      assert.is(entry.size, 0, `size of ${where}`);
    }
    if (type === 'symlink') {
      assert.is(entry.linkname, bytesToByteString(readlinkSync(bytesPath, { encoding: 'buffer' })), `target of ${where}`);
    } else {
      assert.is(entry.linkname, '', `linkname of ${where}`);
    }
    if (type === 'chardev' || type === 'blockdev') {
      assert.is(entry.devmajor, (st.rdev >> 8) & 0xfff, `devmajor of ${where}`);
      assert.is(entry.devminor, (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00), `devminor of ${where}`);
    }
    if (checkXattrs) {
      const expected = getfattrHex(fsEntry!.abs);
      assert.equal([...entry.xattrs.keys()].sort(), [...expected.keys()].sort(), `xattr names of ${where}`);
      for (const [name, value] of expected) {
        assert.ok(entry.xattrs.get(name)!.equals(value), `xattr ${name} of ${where} is byte-exact`);
      }
    } else {
      assert.is(entry.xattrs.size, 0);
    }
  }
  const missing = fsEntries.filter((e) => !seen.has(e.rel)).map((e) => displayPath(e.rel));
  assert.equal(missing, [], 'every file in the tree is in the archive');
}

let ustarTree = '';
let v7Tree = '';
buildFullTree();
ustarTree = buildPlainTree(true);
v7Tree = buildPlainTree(false);

function gnuTar(format: string, tree: string, extra: string[] = []): Buffer {
  return run('tar', [`--format=${format}`, ...extra, '-C', root, '-cf', '-', tree]);
}

test('pax format with --xattrs: every member matches the tree, xattrs byte-exact', async () => {
  const archive = gnuTar('pax', 'full', ['--xattrs']);
  const members = await readAll(oneChunk(archive));
  compareWithTree(members, 'full', true);
  const cap = members.find((m) => m.entry.path === 'full/cap')!;
  // The reason this reader exists: binary PAX values must not go through UTF-8.
  assert.is(cap.entry.xattrs.get('security.capability')!.length, 20);
  assert.ok(cap.entry.xattrs.get('user.binary')!.equals(BINARY_XATTR));
  assert.is(cap.entry.xattrs.get('user.empty')!.length, 0);
});

test('pax format read through random chunk boundaries gives identical results', async () => {
  const archive = gnuTar('pax', 'full', ['--xattrs']);
  const whole = await readAll(oneChunk(archive));
  for (const seed of [1, 2, 3]) {
    const split = await readAll(randomChunks(archive, seed, 4096));
    assert.equal(split.map((m) => [m.entry, m.sha256]), whole.map((m) => [m.entry, m.sha256]), `seed ${seed}`);
  }
});

test('bsdtar pax archive (LIBARCHIVE.xattr base64 + SCHILY.xattr) matches the tree', async () => {
  if (!hasTool('bsdtar')) {
    console.warn('bsdtar not installed (apt-get install libarchive-tools); skipping');
    return;
  }
  const archive = run('bsdtar', ['--format=pax', '--xattrs', '-C', root, '-cf', '-', 'full']);
  assert.ok(archive.includes('LIBARCHIVE.xattr.security.capability='), 'bsdtar wrote LIBARCHIVE records');
  compareWithTree(await readAll(randomChunks(archive, 31)), 'full', true);
});

test('gnu format: long names and long link names (L/K), base-256 ids and negative mtime', async () => {
  const archive = gnuTar('gnu', 'full');
  // Make sure the fixture really exercises what it claims to.
  assert.ok(archive.includes('././@LongLink'), 'GNU long-name records present');
  const members = await readAll(randomChunks(archive, 7));
  compareWithTree(members, 'full', false);
  const longLink = members.find((m) => m.entry.path === 'full/long-symlink')!;
  assert.is(longLink.entry.linkname, LONG_TARGET);
  const hardlinks = members.filter((m) => m.entry.type === 'hardlink' && m.entry.linkname.length > 100);
  assert.is(hardlinks.length, 1, 'the long-named hardlink pair becomes one hardlink with a long target');
  assert.is(members.find((m) => m.entry.path === 'full/huge-ids')!.entry.uid, 3_000_000);
  assert.is(members.find((m) => m.entry.path === 'full/old')!.entry.mtime, -100);
});

test('ustar format: prefix + name joined', async () => {
  const members = await readAll(randomChunks(gnuTar('ustar', ustarTree), 11));
  compareWithTree(members, ustarTree, false);
  assert.ok(members.some((m) => m.entry.path.length > 100 && m.entry.type === 'file'), 'a prefix-split name was read');
});

test('v7 format: no magic, directories by trailing slash', async () => {
  const members = await readAll(randomChunks(gnuTar('v7', v7Tree), 13));
  compareWithTree(members, v7Tree, false);
  assert.ok(members.some((m) => m.entry.type === 'directory'));
});

test('oldgnu format with a record size of 1 block: end of archive without padding records', async () => {
  const archive = gnuTar('oldgnu', ustarTree, ['--blocking-factor=1']);
  compareWithTree(await readAll(randomChunks(archive, 17)), ustarTree, false);
});

test('a GNU tar archive cut anywhere inside is reported as truncated, never silently short', async () => {
  const archive = gnuTar('pax', 'full', ['--xattrs', '--blocking-factor=1']);
  const whole = await readAll(oneChunk(archive));
  // Cutting after the end-of-archive marker is fine; everywhere else must fail or yield less.
  const endOfData = archive.length - 1024;
  for (const cut of [1, 511, 512, 700, 1024 + 3, Math.floor(endOfData / 2), endOfData - 1]) {
    let error: unknown;
    let members: ReadMember[] = [];
    try {
      members = await readAll(oneChunk(archive.subarray(0, cut)));
    } catch (e) {
      error = e;
    }
    if (error === undefined) {
      // Only acceptable when the cut lands exactly on a member boundary.
      assert.ok(members.length < whole.length, `cut at ${cut} lost members without an error`);
      assert.is(cut % 512, 0, `cut at ${cut} is a block boundary`);
    } else {
      assert.match((error as Error).message, /^test archive: truncated/, `cut at ${cut}`);
    }
  }
});

test.run();
