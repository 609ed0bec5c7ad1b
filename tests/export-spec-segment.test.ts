/**
 * The runtime spec an export embeds (toolchain/export/spec-segment.ts),
 * without a VM: the spec read back from a bundle's initramfs in each
 * compression, the records that must survive from the bundle's spec
 * (module, xattr, rootdisk), and the appended newc segment's padding and
 * alignment, read back the way the kernel reads concatenated archives (our
 * reader follows it). export-qemu-boot.test.ts boots the result.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMPRESSIONS } from '../toolchain/bundle/manifest.ts';
import { compress } from '../toolchain/compress/compress.ts';
import { makeMode } from '../toolchain/cpio/file-mode.ts';
import { readNewc } from '../toolchain/cpio/newc-reader.ts';
import { writeNewc, type NewcEntry } from '../toolchain/cpio/newc-writer.ts';
import { exportSpec, fileOnlyRecords, paddingAfterArchive, readBundleSpec, SPEC_ENTRY_NAME, specSegment } from '../toolchain/export/spec-segment.ts';
import { decodeSpecRecords, encodeSpec, type HyperStartSpec } from '../toolchain/hyperstart/protocol.ts';
import { rejectsBadInput } from './helpers/bad-input.ts';
import { tempDir } from './helpers/places.ts';

const FILE_SPEC: HyperStartSpec = {
  args: ['/bin/hello'], env: ['PATH=/bin'], workdir: '/',
  modules: ['/.hyperstart/modules/virtio_blk.ko', '/.hyperstart/modules/ext4.ko'],
  xattrs: [{ path: 'usr/bin/ping', name: 'security.capability', value: Buffer.from([1, 0, 0, 2, 0x20, 0, 0, 0]) }],
  rootDisk: { device: '/dev/vda', fsType: 'ext4' },
};

const entry = (name: string, body: Buffer, mode = makeMode('file', 0o644)): NewcEntry => ({
  name, header: { ino: 0, mode, uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: body.length, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0 }, body: [body],
});

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(c);
  return Buffer.concat(parts);
}

/** A tiny initramfs: `.`, `.hyperstart/`, the spec, then an image file (sorted as the build sorts). */
async function initramfs(spec: Buffer): Promise<Buffer> {
  const dir = (name: string): NewcEntry => ({ ...entry(name, Buffer.alloc(0), makeMode('directory', 0o755)), body: undefined });
  return collect(writeNewc([dir('.'), dir('.hyperstart'), entry(SPEC_ENTRY_NAME, spec), entry('hello', Buffer.from('hi\n'))]));
}

test('the records HyperStart always takes from the file survive, byte for byte', () => {
  const kept = fileOnlyRecords(encodeSpec(FILE_SPEC), 'spec');
  assert.equal(kept, { modules: FILE_SPEC.modules, xattrs: FILE_SPEC.xattrs, rootDisk: FILE_SPEC.rootDisk });
  const merged = decodeSpecRecords(exportSpec(encodeSpec(FILE_SPEC), { args: ['sh', '-c', 'exit 3'], env: ['A=1'], network: { mode: 'none' } }, 'spec'));
  const values = (key: string) => merged.filter((r) => r.key === key).map((r) => r.value.toString('latin1'));
  assert.equal(values('arg'), ['sh', '-c', 'exit 3'], 'runtime args replace the image\'s');
  assert.equal(values('env'), ['A=1']);
  assert.equal(values('workdir'), [], 'runtime records come from the runtime spec only');
  assert.equal(values('net'), ['none']);
  assert.equal(values('module'), FILE_SPEC.modules);
  assert.equal(values('rootdisk'), ['/dev/vda\0ext4']);
  assert.equal(values('xattr').length, 1);
});

test('a malformed bundle spec is bad input, naming it', async () => {
  await rejectsBadInput(() => fileOnlyRecords(Buffer.from('not a spec'), 'initramfs X'), /^initramfs X: not a hyperstart spec/);
  await rejectsBadInput(() => fileOnlyRecords(Buffer.from('hyperstart-spec 1\nrootdisk 4\nvda!\n'), 'initramfs X'), /malformed rootdisk record/);
});

test('padding: at least 4 zero bytes, ending 4-byte aligned', () => {
  for (let size = 0; size < 16; size++) {
    const pad = paddingAfterArchive(size);
    assert.ok(pad >= 4 && pad < 8, `size ${size}: ${pad}`);
    assert.is((size + pad) % 4, 0);
  }
});

test('initramfs + segment: the new spec is the last entry of that name, in an aligned second archive', async () => {
  const base = await initramfs(encodeSpec(FILE_SPEC));
  for (const odd of [0, 1, 2, 3]) {
    // An odd-sized first archive, as a compressed one is.
    const first = Buffer.concat([base, Buffer.alloc(odd)]);
    const newSpec = exportSpec(encodeSpec(FILE_SPEC), { args: ['/bin/true'], env: [] }, 'spec');
    const both = Buffer.concat([first, await specSegment(newSpec, first.length, 1234)]);
    const specs: { offset: number; body: Buffer; mtime: number }[] = [];
    for await (const e of readNewc((async function* () { yield both; })(), 'test')) {
      const body = await collect(e.body);
      if (e.name === SPEC_ENTRY_NAME) specs.push({ offset: e.offset, body, mtime: e.header.mtime });
    }
    assert.is(specs.length, 2);
    assert.ok(specs[1].offset >= first.length + 4, 'at least 4 zero bytes after the first archive');
    assert.is(specs[1].offset % 4, 0, 'the second archive starts 4-byte aligned');
    assert.ok(specs[1].body.equals(newSpec));
    assert.is(specs[1].mtime, 1234);
  }
});

test('the bundle spec is read back from the initramfs in every compression', async () => {
  const dir = tempDir('export-spec');
  const raw = await initramfs(encodeSpec(FILE_SPEC));
  for (const c of COMPRESSIONS) {
    const path = join(dir, `initramfs.${c}`);
    writeFileSync(path, await collect(compress(c, (async function* () { yield raw; })())));
    assert.ok((await readBundleSpec(path, c)).equals(encodeSpec(FILE_SPEC)), c);
  }
  const noSpec = join(dir, 'nospec.cpio');
  writeFileSync(noSpec, await collect(writeNewc([entry('hello', Buffer.from('x'))])));
  await rejectsBadInput(() => readBundleSpec(noSpec, 'none'), /has no \.hyperstart\/spec/);
});

test.run();
