/**
 * The kernel file bundles get (toolchain/kernel/elf-compact.ts, compact-vmlinux.ts,
 * gzip-vmlinux.ts): an ELF without its alignment padding that loads the very
 * same memory image, stored gzip-compressed (≤ 8 MiB, reproducible).
 * Synthetic ELFs cover the rules (splits at long zero runs, trailing zeros,
 * notes, p_offset ≡ p_vaddr mod p_align, hostile headers) and that the image
 * check can fail; the real HyperKernel is compacted as the build does it and
 * compared with the original, byte for byte of guest memory. Booting the compact
 * kernel is tests/hyperstart-vm.test.ts's job (it boots what resolveKernel returns).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { defaultCacheDir } from '../toolchain/cache/cache-dir.ts';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { COMPACT_VMLINUX, compactVmlinux } from '../toolchain/kernel/compact-vmlinux.ts';
import { COMPACT_ALIGN, compactElf, readElf, sameLoadedImage, SPLIT_ZERO_RUN } from '../toolchain/kernel/elf-compact.ts';
import { gzipVmlinux, gzipVmlinuxPath } from '../toolchain/kernel/gzip-vmlinux.ts';
import { detectKernelFormatOf } from '../toolchain/kernel/kernel-format.ts';
import { resolveKernel } from '../toolchain/kernel/resolve-kernel.ts';

interface Seg { type?: number; offset: number; vaddr: bigint; paddr: bigint; data: Buffer; memsz?: number; align?: bigint }

/** An ELF64 LE x86-64 file with these segments at these file offsets (as a linker lays them out). */
function makeElf(segs: Seg[], size: number, entry = 0x200000n): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; b[5] = 1; b[6] = 1;
  b.writeUInt16LE(2, 16); // ET_EXEC
  b.writeUInt16LE(62, 18);
  b.writeBigUInt64LE(entry, 0x18);
  b.writeBigUInt64LE(64n, 0x20);
  b.writeBigUInt64LE(BigInt(size - 64), 0x28); // section headers somewhere (dropped by compaction)
  b.writeUInt16LE(64, 0x34); b.writeUInt16LE(56, 0x36); b.writeUInt16LE(segs.length, 0x38); b.writeUInt16LE(64, 0x3a); b.writeUInt16LE(1, 0x3c);
  segs.forEach((s, i) => {
    const at = 64 + i * 56;
    b.writeUInt32LE(s.type ?? 1, at); b.writeUInt32LE(5, at + 4);
    b.writeBigUInt64LE(BigInt(s.offset), at + 8); b.writeBigUInt64LE(s.vaddr, at + 16); b.writeBigUInt64LE(s.paddr, at + 24);
    b.writeBigUInt64LE(BigInt(s.data.length), at + 32); b.writeBigUInt64LE(BigInt(s.memsz ?? s.data.length), at + 40);
    b.writeBigUInt64LE(s.align ?? 0x200000n, at + 48);
    s.data.copy(b, s.offset);
  });
  return b;
}

const fill = (n: number, byte: number) => Buffer.alloc(n, byte);
const MiB = 1 << 20;
/** Xen PHYS32_ENTRY note (the PVH entry), with the zero bytes a real one ends with. */
const PVH_NOTE = (() => {
  const n = Buffer.alloc(20);
  n.writeUInt32LE(4, 0); n.writeUInt32LE(8, 4); n.writeUInt32LE(18, 8); n.write('Xen\0', 12, 'latin1');
  return Buffer.concat([n, Buffer.from([0, 5, 0x20, 0, 0, 0, 0, 0])]);
})();

/** Like the HyperKernel: text with int3 fill and a PMD hole of zeros, a note at its end, data with zeros and .bss. */
function kernelLike(): Buffer {
  const text = Buffer.concat([fill(300_000, 0x90), fill(200_000, 0xcc), fill(2 * MiB - 500_000, 0), fill(100_000, 0x41), PVH_NOTE]);
  const data = Buffer.concat([fill(5000, 0x7), fill(3 * SPLIT_ZERO_RUN, 0), fill(4097, 0x8), fill(1000, 0)]);
  return makeElf([
    { offset: 2 * MiB, vaddr: 0xffffffff80200000n, paddr: 0x200000n, data: text },
    { offset: 6 * MiB, vaddr: 0xffffffff80600000n, paddr: 0x600000n, data, memsz: data.length + 123_456 },
    { type: 4, offset: 2 * MiB + text.length - PVH_NOTE.length, vaddr: 0xffffffff80200000n + BigInt(text.length - PVH_NOTE.length), paddr: 0x200000n + BigInt(text.length - PVH_NOTE.length), data: PVH_NOTE, align: 4n },
  ], 8 * MiB);
}

test('a kernel-like ELF: same memory image, a fraction of the size, legal alignment, no section headers', () => {
  const src = kernelLike();
  const out = compactElf(src, 'kernel-like');
  assert.ok(sameLoadedImage(src, out));
  assert.ok(out.length < 0.1 * src.length, `${out.length} bytes of ${src.length}`);
  const elf = readElf(out, 'out');
  const loads = elf.phdrs.filter((p) => p.type === 1);
  // The PMD hole splits the text; the data's long zero run splits it too; trailing zeros went to p_memsz.
  assert.is(loads.length, 4);
  for (const p of loads) {
    assert.is(p.align, BigInt(COMPACT_ALIGN));
    assert.is(BigInt(p.offset) % p.align, p.vaddr % p.align, 'p_offset ≡ p_vaddr (mod p_align)');
  }
  assert.is(out.readBigUInt64LE(0x28), 0n);
  assert.is(out.readUInt16LE(0x3c), 0);
  assert.is(out.readBigUInt64LE(0x18), 0x200000n);
  // The note still reads as the PVH entry, from wherever it now lives.
  assert.ok(detectKernelFormatOf(out, 'out').pvh);
  const note = elf.phdrs.find((p) => p.type === 4)!;
  assert.equal(out.subarray(note.offset, note.offset + note.filesz), PVH_NOTE);
  // int3 is not zero: it stays in the file.
  assert.ok(out.includes(fill(200_000, 0xcc)));
});

test('compaction is deterministic and idempotent', () => {
  const src = kernelLike();
  const once = compactElf(src, 'a');
  assert.equal(compactElf(src, 'b'), once);
  assert.equal(compactElf(once, 'c'), once);
});

test('the image check can fail: one changed byte, a moved segment, another entry, less memory', () => {
  const src = kernelLike();
  const out = compactElf(src, 'k');
  const elf = readElf(out, 'k');
  const first = elf.phdrs[0];
  const flipped = Buffer.from(out);
  flipped[first.offset + 10] ^= 1;
  assert.not.ok(sameLoadedImage(src, flipped));
  const moved = Buffer.from(out);
  moved.writeBigUInt64LE(first.paddr + 4096n, 64 + 24);
  assert.not.ok(sameLoadedImage(src, moved));
  const entry = Buffer.from(out);
  entry.writeBigUInt64LE(0x200010n, 0x18);
  assert.not.ok(sameLoadedImage(src, entry));
  const shorter = Buffer.from(out);
  shorter.writeBigUInt64LE(first.memsz - 1n, 64 + 40);
  assert.not.ok(sameLoadedImage(src, shorter));
});

test('zeros opening a segment stay in the file (ELF fills only after the file bytes)', () => {
  const data = Buffer.concat([fill(4 * SPLIT_ZERO_RUN, 0), fill(100, 1)]);
  const src = makeElf([{ offset: 2 * MiB, vaddr: 0x200000n, paddr: 0x200000n, data }], 3 * MiB);
  const out = compactElf(src, 'opening');
  assert.ok(sameLoadedImage(src, out));
  assert.is(readElf(out, 'o').phdrs[0].filesz, data.length);
});

test('hostile ELF headers are refused with the file named, never read past the end', () => {
  const good = kernelLike();
  const cases: [string, (b: Buffer) => Buffer, RegExp][] = [
    ['not ELF', (b) => { const c = Buffer.from(b); c[0] = 0; return c; }, /not a 64-bit little-endian ELF/],
    ['32-bit', (b) => { const c = Buffer.from(b); c[4] = 1; return c; }, /not a 64-bit little-endian ELF/],
    ['truncated', (b) => b.subarray(0, 40), /not a 64-bit little-endian ELF/],
    ['phnum past the end', (b) => { const c = Buffer.from(b.subarray(0, 300)); c.writeUInt16LE(60000, 0x38); return c; }, /program headers .* do not fit/],
    ['segment past the end', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(BigInt(c.length), 64 + 8); return c; }, /program header 0 overruns the file/],
    ['filesz > memsz', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(1n, 64 + 40); return c; }, /more file bytes than memory/],
    ['overlapping', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(0x200100n, 64 + 56 + 24); return c; }, /overlap/],
  ];
  for (const [what, mutate, message] of cases) {
    try {
      compactElf(mutate(good), `bad-${what}`);
      assert.unreachable(what);
    } catch (err) {
      assert.instance(err, BadInputError, what);
      assert.match((err as Error).message, `bad-${what}: `);
      assert.match((err as Error).message, message, what);
      assert.ok((err as BadInputError).hint, `${what}: a hint`);
    }
  }
});

const tmp = mkdtempSync(join(tmpdir(), 'kernel-size-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

test('the HyperKernel: the compact vmlinux the build bundles loads exactly as the built one, without padding', async () => {
  const resolved = await resolveKernel({ cacheDir: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir() });
  assert.is(resolved.kernel.kind, 'hyperkernel', 'this test needs the HyperKernel (make kernel)');
  assert.is(resolved.bootPath, join(dirname(resolved.path), COMPACT_VMLINUX));
  const original = readFileSync(join(dirname(resolved.path), 'vmlinux'));
  const compact = readFileSync(resolved.bootPath);
  assert.ok(sameLoadedImage(original, compact), 'same memory image');
  assert.equal(compactElf(original, 'vmlinux'), compact, 'the cached file is what compaction makes now');
  const fmt = detectKernelFormatOf(compact, 'compact');
  assert.equal([fmt.format, fmt.pvh, fmt.release], ['vmlinux', true, resolved.kernel.release]);
  // No padding left: the file is its segments' data up to their last non-zero byte, plus at most a page per segment.
  const elf = readElf(compact, 'compact');
  const data = elf.phdrs.filter((p) => p.type === 1).reduce((n, p) => n + p.filesz, 0);
  assert.ok(compact.length <= data + elf.phdrs.length * COMPACT_ALIGN + 4096, `${compact.length} bytes for ${data} bytes of segment data`);
  const gz = readFileSync(resolved.path);
  assert.is(resolved.path, gzipVmlinuxPath(resolved.bootPath), 'the bundle gets the gzip copy');
  assert.ok(gunzipSync(gz).equals(compact), 'which unpacks to the compact vmlinux');
  assert.equal([resolved.kernel.compression, resolved.kernel.uncompressedDigest, resolved.kernel.uncompressedSize], ['gzip', sha256Digest(compact), compact.length]);
  assert.ok(gz.length <= 8 * MiB, `the bundle's kernel file is ${gz.length} bytes: target ≤ 8 MiB`);
  console.log(`kernel-size: vmlinux ${original.length} bytes → compact ${compact.length} bytes (${(compact.length / MiB).toFixed(2)} MiB) → bundled kernel.gz ${gz.length} bytes (${(gz.length / MiB).toFixed(2)} MiB)`);
});

test('gzipVmlinux: made once, the same bytes in another kernel cache, a damaged copy remade', async () => {
  const resolved = await resolveKernel({ cacheDir: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir() });
  const { copyFileSync, mkdirSync, writeFileSync } = await import('node:fs');
  const paths = [];
  for (const name of ['gz-a', 'gz-b']) {
    mkdirSync(join(tmp, name));
    const compact = join(tmp, name, COMPACT_VMLINUX);
    copyFileSync(resolved.bootPath, compact);
    paths.push((await gzipVmlinux(compact)).path);
  }
  assert.ok(readFileSync(paths[0]).equals(readFileSync(paths[1])), 'reproducible: two caches, the same bytes');
  assert.ok(readFileSync(paths[0]).equals(readFileSync(resolved.path)), 'and the bytes the real cache holds');
  const made = statSync(paths[0]);
  const again = await gzipVmlinux(join(tmp, 'gz-a', COMPACT_VMLINUX));
  assert.equal([again.path, statSync(again.path).ino], [paths[0], made.ino], 'a good file is kept');
  assert.equal([again.uncompressedDigest, again.uncompressedSize], [resolved.kernel.uncompressedDigest, resolved.kernel.uncompressedSize]);
  writeFileSync(paths[0], gzipSync(Buffer.from('not the kernel')));
  await gzipVmlinux(join(tmp, 'gz-a', COMPACT_VMLINUX));
  assert.ok(readFileSync(paths[0]).equals(readFileSync(paths[1])), 'a damaged file is replaced');
});

test('compactVmlinux makes the file once and remakes a damaged one', async () => {
  const resolved = await resolveKernel({ cacheDir: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir() });
  const entry = join(tmp, 'entry');
  const { mkdirSync, copyFileSync, writeFileSync } = await import('node:fs');
  mkdirSync(entry);
  copyFileSync(join(dirname(resolved.path), 'vmlinux'), join(entry, 'vmlinux'));
  const path = await compactVmlinux(entry);
  const made = statSync(path);
  assert.is(await compactVmlinux(entry), path);
  assert.is(statSync(path).ino, made.ino, 'a good file is kept');
  writeFileSync(path, Buffer.from('not a kernel'));
  await compactVmlinux(entry);
  assert.ok(sameLoadedImage(readFileSync(join(entry, 'vmlinux')), readFileSync(path)), 'a damaged file is replaced');
});

test.run();
