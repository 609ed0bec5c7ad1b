/**
 * Kernel format detection from bytes: ELF vmlinux with/without the PVH note,
 * bzImage by 'HdrS', and the release strings. Synthetic images pin the
 * parsing; the real HyperKernel (when `make kernel` has run) and the Debian
 * cloud kernel (when cached) pin it against what the toolchains really emit.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveKernel } from '../toolchain/kernel/resolve-kernel.ts';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCacheDir } from '../toolchain/cache/cache-dir.ts';
import { hyperKernelKey, readHyperKernelKeyInputs } from '../toolchain/kernel/cache-key.ts';
import { detectKernelFormat, detectKernelFormatOf, XEN_ELFNOTE_PHYS32_ENTRY } from '../toolchain/kernel/kernel-format.ts';

/** A minimal ELF64 x86-64 file with one PT_NOTE segment holding the given notes. */
function fakeVmlinux(notes: { name: string; type: number }[], banner = 'Linux version 6.1.99-fake (u@h) #1 SMP\0'): Buffer {
  const noteBufs = notes.map(({ name, type }) => {
    const n = Buffer.from(`${name}\0`);
    const nameLen = (n.length + 3) & ~3;
    const b = Buffer.alloc(12 + nameLen + 4);
    b.writeUInt32LE(n.length, 0);
    b.writeUInt32LE(4, 4);
    b.writeUInt32LE(type, 8);
    n.copy(b, 12);
    return b;
  });
  const note = Buffer.concat(noteBufs);
  const elf = Buffer.alloc(64 + 56);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; // 64-bit
  elf[5] = 1; // little-endian
  elf[6] = 1;
  elf.writeUInt16LE(2, 16); // ET_EXEC
  elf.writeUInt16LE(62, 18); // x86-64
  elf.writeBigUInt64LE(64n, 0x20); // e_phoff
  elf.writeUInt16LE(56, 0x36);
  elf.writeUInt16LE(1, 0x38);
  elf.writeUInt32LE(4, 64); // PT_NOTE
  elf.writeBigUInt64LE(BigInt(64 + 56), 64 + 8);
  elf.writeBigUInt64LE(BigInt(note.length), 64 + 32);
  return Buffer.concat([elf, note, Buffer.from(banner, 'latin1')]);
}

/** The start of a bzImage: boot protocol 2.15 setup header pointing at a kernel_version string. */
function fakeBzImage(version = '6.1.99-fakebz (u@h) #1 SMP'): Buffer {
  const b = Buffer.alloc(0x400);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x20f, 0x206);
  b.writeUInt16LE(0x100, 0x20e);
  b.write(`${version}\0`, 0x300, 'latin1');
  return b;
}

test('ELF with the Xen PHYS32_ENTRY note is a PVH vmlinux; release from linux_banner', () => {
  const f = detectKernelFormatOf(fakeVmlinux([{ name: 'GNU', type: 3 }, { name: 'Xen', type: XEN_ELFNOTE_PHYS32_ENTRY }]), 'x');
  assert.equal(f, { format: 'vmlinux', pvh: true, release: '6.1.99-fake' });
});

test('ELF without the note (or with other Xen notes) is a vmlinux without PVH', () => {
  assert.equal(detectKernelFormatOf(fakeVmlinux([{ name: 'Xen', type: 1 }, { name: 'GNU', type: 18 }]), 'x').pvh, false);
});

test('bzImage is recognised by HdrS at 0x202; release from the setup header', () => {
  assert.equal(detectKernelFormatOf(fakeBzImage(), 'x'), { format: 'bzImage', pvh: false, release: '6.1.99-fakebz' });
});

test('anything else (and 32-bit ELF) is refused with a hint', () => {
  assert.throws(() => detectKernelFormatOf(Buffer.from('#!/bin/sh\necho not a kernel\n'), 'script'), /not a kernel/);
  const elf32 = fakeVmlinux([]);
  elf32[4] = 1;
  assert.throws(() => detectKernelFormatOf(elf32, 'k32'), /not a 64-bit x86-64 kernel/);
});

test('the real HyperKernel: stripped vmlinux keeps its PVH note, bzImage is a bzImage', async () => {
  const dir = join(process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir(), 'kernels', hyperKernelKey(await readHyperKernelKeyInputs()));
  assert.ok(existsSync(join(dir, 'vmlinux')), `no HyperKernel at ${dir}: run \`make kernel\` (make test does)`);
  const vmlinux = await detectKernelFormat(join(dir, 'vmlinux'));
  const bz = await detectKernelFormat(join(dir, 'bzImage'));
  assert.equal(vmlinux.format, 'vmlinux');
  assert.ok(vmlinux.pvh, 'stripped vmlinux must keep the PVH note');
  assert.equal(bz.format, 'bzImage');
  assert.match(vmlinux.release ?? '', /^6\.1\.\d+-hyperkernel$/);
  assert.is(bz.release, vmlinux.release);
});

test('the real Debian cloud kernel is a bzImage with its release', async () => {
  // Downloaded once into the kernel cache (apt-get download) when not there yet.
  const cloud = await resolveKernel({ cacheDir: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir(), kernelPath: 'debian-cloud' });
  const f = await detectKernelFormat(cloud.path);
  assert.is(f.format, 'bzImage');
  assert.match(f.release ?? '', /-cloud-amd64$/);
});

test.run();
