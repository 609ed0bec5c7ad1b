/**
 * Bundle directories: openBundle refuses missing, truncated, replaced and
 * edited files with the file named (full hashing and through the digest
 * memo); writeBundle's replace rules ('bundle' for build, 'empty-only' for
 * pull), exact bundle.json bytes, and its refusal to write what a reader
 * would refuse.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleFileList } from '../toolchain/bundle/manifest.ts';
import { openBundle, readBundleManifest } from '../toolchain/bundle/open-bundle.ts';
import { writeBundle } from '../toolchain/bundle/write-bundle.ts';
import { DigestMemo } from '../toolchain/cache/digest-memo.ts';
import { rejectsBadInput } from './helpers/bad-input.ts';
import { makeBundleDir, tempDir } from './helpers/registry-fixtures.ts';

const work = tempDir('bundle-dir');
const good = await makeBundleDir(join(work, 'good'), { rootfsSize: 4096 });

/** A fresh copy of the good bundle, through the writer. */
async function copyOfGood(name: string): Promise<string> {
  const dir = join(work, name);
  await writeBundle(dir, bundleFileList(good.bundle).map((f) => ({ name: f.name, from: join(good.dir, f.name) })), good.bundleJson, 'bundle');
  return dir;
}

test('a good bundle opens with every file verified, in layer order', async () => {
  const opened = await openBundle(good.dir, { verify: 'full' });
  assert.equal(opened.manifest, good.bundle);
  assert.ok(opened.manifestBytes.equals(good.bundleJson));
  assert.equal(opened.files.map((f) => [f.role, f.name, f.path]), [
    ['kernel', 'vmlinux', join(good.dir, 'vmlinux')],
    ['initramfs', 'initramfs.cpio.gz', join(good.dir, 'initramfs.cpio.gz')],
    ['rootfs', 'rootfs.ext4', join(good.dir, 'rootfs.ext4')],
  ]);
});

test('missing, truncated, same-size-edited and non-regular files are refused, naming the file', async () => {
  const dir = await copyOfGood('damaged');
  rmSync(join(dir, 'rootfs.ext4'));
  await rejectsBadInput(() => openBundle(dir, { verify: 'full' }), new RegExp(`^bundle ${dir}: rootfs rootfs.ext4 is missing$`));
  mkdirSync(join(dir, 'rootfs.ext4'));
  await rejectsBadInput(() => openBundle(dir, { verify: 'full' }), /: rootfs rootfs.ext4 is not a regular file$/);
  rmSync(join(dir, 'rootfs.ext4'), { recursive: true });
  writeFileSync(join(dir, 'rootfs.ext4'), readFileSync(join(good.dir, 'rootfs.ext4')).subarray(1));
  await rejectsBadInput(() => openBundle(dir, { verify: 'full' }), /: rootfs rootfs.ext4 has 4095 bytes, bundle.json says 4096: the bundle was changed or truncated$/);
  const edited = readFileSync(join(good.dir, 'rootfs.ext4'));
  edited[100] ^= 1;
  writeFileSync(join(dir, 'rootfs.ext4'), edited);
  await rejectsBadInput(() => openBundle(dir, { verify: 'full' }), /: rootfs rootfs.ext4 does not match bundle.json \(sha256 differs\): the bundle was changed or corrupted$/);
});

test('memo verification sees an edit the memo has not seen, even with size and mtime kept', async () => {
  const dir = await copyOfGood('memo');
  const memo = new DigestMemo(join(work, 'memo-cache'));
  await openBundle(dir, { verify: 'memo', memo });
  const path = join(dir, 'vmlinux');
  const { atime, mtime } = statSync(path);
  const edited = readFileSync(path);
  edited[0] ^= 1;
  writeFileSync(path, edited);
  utimesSync(path, atime, mtime);
  await rejectsBadInput(() => openBundle(dir, { verify: 'memo', memo }), /: kernel vmlinux does not match bundle.json \(sha256 differs\)/);
});

test('a directory without bundle.json, or with a hostile one, is not a bundle', async () => {
  const empty = join(work, 'empty');
  mkdirSync(empty);
  await rejectsBadInput(() => openBundle(empty, { verify: 'full' }), new RegExp(`^${empty} is not a bundle: cannot read bundle.json \\(ENOENT\\)$`));
  const dir = await copyOfGood('hostile');
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify({ ...good.bundle, kernel: { ...good.bundle.kernel, name: '../good/vmlinux' } }));
  await rejectsBadInput(() => readBundleManifest(dir), new RegExp(`^${join(dir, 'bundle.json')}: kernel.name must be a plain file name`));
});

test("writeBundle 'bundle' replaces an older bundle, never a directory that is not one", async () => {
  const dir = await copyOfGood('replace');
  writeFileSync(join(dir, 'stale-extra'), 'x');
  await copyOfGood('replace');
  assert.equal(readdirSync(dir).sort(), ['bundle.json', 'initramfs.cpio.gz', 'rootfs.ext4', 'vmlinux']);
  const other = join(work, 'not-a-bundle');
  mkdirSync(other);
  writeFileSync(join(other, 'precious'), 'keep me');
  await rejectsBadInput(() => writeBundle(other, bundleFileList(good.bundle).map((f) => ({ name: f.name, from: join(good.dir, f.name) })), good.bundleJson, 'bundle'), /is a non-empty directory without bundle.json; refusing to replace it/);
  assert.is(readFileSync(join(other, 'precious'), 'utf8'), 'keep me');
  const file = join(work, 'a-file');
  writeFileSync(file, 'x');
  await rejectsBadInput(() => copyOfGood('a-file'), /exists and is not a directory/);
  assert.equal(readdirSync(work).filter((n) => n.includes('.tmp-')), [], 'no temp directories left');
});

test("writeBundle 'empty-only' writes into an absent or empty directory only, bundle.json byte for byte", async () => {
  const files = bundleFileList(good.bundle).map((f) => ({ name: f.name, from: join(good.dir, f.name) }));
  // Unusual but valid formatting: the bytes are kept as given, not re-serialised.
  const odd = Buffer.from(`\n${JSON.stringify(good.bundle)}   \n`);
  const absent = join(work, 'pulled', 'deep');
  await writeBundle(absent, files, odd, 'empty-only');
  assert.ok(readFileSync(join(absent, 'bundle.json')).equals(odd));
  const empty = join(work, 'pulled-empty');
  mkdirSync(empty);
  await writeBundle(empty, files, odd, 'empty-only');
  await rejectsBadInput(() => writeBundle(empty, files, odd, 'empty-only'), /already exists and is not empty/);
});

test('writeBundle refuses a manifest a reader would refuse, or files it does not name', async () => {
  const files = bundleFileList(good.bundle).map((f) => ({ name: f.name, from: join(good.dir, f.name) }));
  const target = join(work, 'never');
  await rejectsBadInput(() => writeBundle(target, files, { ...good.bundle, buildKey: 'sha256:0' }, 'bundle'), /buildKey must be a sha256 digest/);
  try {
    await writeBundle(target, files.slice(1), good.bundle, 'bundle');
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /bundle.json names initramfs.cpio.gz, rootfs.ext4, vmlinux but the files given are initramfs.cpio.gz, rootfs.ext4/);
  }
  assert.not.ok(readdirSync(work).includes('never'));
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
