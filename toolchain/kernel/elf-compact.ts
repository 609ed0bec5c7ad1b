/**
 * An ELF kernel without its padding. The HyperKernel's vmlinux is 20 MB on disk
 * but 14 MB of its segments' bytes, and 3 MB of those are zero: the linker
 * aligns every PT_LOAD to 2 MiB in the file (p_offset ≡ p_vaddr mod p_align with
 * p_align = 2 MiB) and leaves PMD-sized holes of zeros inside segments (the
 * text/rodata gap). Loaders only copy p_filesz bytes from p_offset to p_paddr and
 * zero the rest up to p_memsz, so the same memory image can be described by
 * segments that start at page alignment (p_align 4 KiB), end before their
 * trailing zeros, and are split around long zero runs.
 *
 *   QEMU (hw/core/loader.c, elf_ops.h): copies p_filesz and zero-fills to p_memsz.
 *   linux-loader (Firecracker, Cloud Hypervisor): copies p_filesz to p_paddr and
 *   relies on guest RAM being zero beyond it (fresh guest memory is); it reads
 *   PT_NOTE at p_offset, aligning note fields to the note's own p_align.
 *
 * Section headers are dropped (no loader reads them; their offsets would be
 * stale). Nothing else changes: entry point, flags, the int3 fill of text
 * padding (it is not zeros, so it stays), notes. `sameLoadedImage` proves it:
 * compactElf refuses to return a file that would load differently.
 */
import { BadInputError } from '../errors/errors.ts';

const PT_LOAD = 1;
const EHDR_BYTES = 64;
const PHDR_BYTES = 56;
/** Page size the new segments align to (x86-64 ELF's smallest legal p_align for loadable segments). */
export const COMPACT_ALIGN = 4096;
/** Zero runs at least this long split a segment; shorter ones stay in the file (each split costs up to a page). */
export const SPLIT_ZERO_RUN = 64 * 1024;

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: number;
  memsz: bigint;
  align: bigint;
}

interface Elf {
  bytes: Buffer;
  phdrs: ProgramHeader[];
}

function bad(label: string, what: string): BadInputError {
  return new BadInputError(`${label}: ${what}`, { hint: 'pass an x86-64 vmlinux as the kernel build wrote it (or its bzImage)' });
}

/** Header and program headers of a 64-bit little-endian ELF, bounds-checked. */
export function readElf(bytes: Buffer, label: string): Elf {
  if (bytes.length < EHDR_BYTES || bytes.readUInt32BE(0) !== 0x7f454c46 || bytes[4] !== 2 || bytes[5] !== 1) {
    throw bad(label, 'not a 64-bit little-endian ELF file');
  }
  const phoff = Number(bytes.readBigUInt64LE(0x20));
  const phentsize = bytes.readUInt16LE(0x36);
  const phnum = bytes.readUInt16LE(0x38);
  if (phentsize !== PHDR_BYTES || phoff < EHDR_BYTES || phoff + phnum * PHDR_BYTES > bytes.length) {
    throw bad(label, `program headers (${phnum} × ${phentsize} bytes at ${phoff}) do not fit the file`);
  }
  const phdrs: ProgramHeader[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * PHDR_BYTES;
    const ph: ProgramHeader = {
      type: bytes.readUInt32LE(at), flags: bytes.readUInt32LE(at + 4), offset: Number(bytes.readBigUInt64LE(at + 8)),
      vaddr: bytes.readBigUInt64LE(at + 16), paddr: bytes.readBigUInt64LE(at + 24), filesz: Number(bytes.readBigUInt64LE(at + 32)),
      memsz: bytes.readBigUInt64LE(at + 40), align: bytes.readBigUInt64LE(at + 48),
    };
    if (ph.offset + ph.filesz > bytes.length) throw bad(label, `program header ${i} overruns the file (${ph.filesz} bytes at ${ph.offset})`);
    if (ph.type === PT_LOAD && BigInt(ph.filesz) > ph.memsz) throw bad(label, `program header ${i} has more file bytes than memory`);
    phdrs.push(ph);
  }
  assertNoOverlap(phdrs.filter((p) => p.type === PT_LOAD), label);
  return { bytes, phdrs };
}

function assertNoOverlap(loads: ProgramHeader[], label: string): void {
  const sorted = [...loads].sort((a, b) => (a.paddr < b.paddr ? -1 : a.paddr > b.paddr ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i - 1].paddr + sorted[i - 1].memsz > sorted[i].paddr) throw bad(label, 'loadable segments overlap in memory');
  }
}

/** Whether bytes[from, to) are all zero (native compares, page by page). */
const ZERO_PAGE = Buffer.alloc(COMPACT_ALIGN);
function isZero(b: Buffer, from: number, to: number): boolean {
  for (let at = from; at < to; at += COMPACT_ALIGN) {
    const end = Math.min(to, at + COMPACT_ALIGN);
    if (!b.subarray(at, end).equals(ZERO_PAGE.subarray(0, end - at))) return false;
  }
  return true;
}

/** Length of `data` once its trailing zero bytes are gone. */
function trimZeros(b: Buffer, from: number, to: number): number {
  let end = to;
  while (end - COMPACT_ALIGN >= from && isZero(b, end - COMPACT_ALIGN, end)) end -= COMPACT_ALIGN;
  while (end > from && b[end - 1] === 0) end--;
  return end - from;
}

/** One PT_LOAD as parts: [start, end) of its file bytes that carry data, split at zero runs of SPLIT_ZERO_RUN or more. */
function dataRuns(b: Buffer, ph: ProgramHeader): [number, number][] {
  const runs: [number, number][] = [];
  const end = ph.offset + ph.filesz;
  // Page boundaries of the segment's memory, so that a split lands on one.
  const first = ph.offset + ((COMPACT_ALIGN - Number(ph.vaddr % BigInt(COMPACT_ALIGN))) % COMPACT_ALIGN);
  let start = ph.offset;
  let zeroFrom = -1;
  for (let at = first; at < end; at += COMPACT_ALIGN) {
    const zero = isZero(b, at, Math.min(end, at + COMPACT_ALIGN));
    if (zero && zeroFrom < 0) zeroFrom = at;
    if (!zero && zeroFrom >= 0) {
      // Zeros opening a segment stay: ELF can fill only after a segment's file bytes.
      if (at - zeroFrom >= SPLIT_ZERO_RUN && zeroFrom > start) {
        runs.push([start, zeroFrom]);
        start = at;
      }
      zeroFrom = -1;
    }
  }
  runs.push([start, end]);
  return runs;
}

interface Part { ph: ProgramHeader; src: number; filesz: number; vaddr: bigint; paddr: bigint; memsz: bigint }

/** The compact segments of one PT_LOAD: each part's memory reaches to the next part, the last to the segment's end. */
function splitLoad(b: Buffer, ph: ProgramHeader): Part[] {
  const runs = dataRuns(b, ph);
  const segEnd = ph.vaddr + ph.memsz;
  return runs.map(([from, to], i) => {
    const vaddr = ph.vaddr + BigInt(from - ph.offset);
    const next = i + 1 < runs.length ? ph.vaddr + BigInt(runs[i + 1][0] - ph.offset) : segEnd;
    return { ph, src: from, filesz: trimZeros(b, from, to), vaddr, paddr: ph.paddr + (vaddr - ph.vaddr), memsz: next - vaddr };
  });
}

/** File offset ≥ cursor with offset ≡ vaddr (mod COMPACT_ALIGN). */
function placeAt(cursor: number, vaddr: bigint): number {
  const want = Number(vaddr % BigInt(COMPACT_ALIGN));
  return cursor + ((want - (cursor % COMPACT_ALIGN) + COMPACT_ALIGN) % COMPACT_ALIGN);
}

function writePhdr(out: Buffer, at: number, p: ProgramHeader): void {
  out.writeUInt32LE(p.type, at);
  out.writeUInt32LE(p.flags, at + 4);
  out.writeBigUInt64LE(BigInt(p.offset), at + 8);
  out.writeBigUInt64LE(p.vaddr, at + 16);
  out.writeBigUInt64LE(p.paddr, at + 24);
  out.writeBigUInt64LE(BigInt(p.filesz), at + 32);
  out.writeBigUInt64LE(p.memsz, at + 40);
  out.writeBigUInt64LE(p.align, at + 48);
}

/** Where an original file range landed: inside a part's copied bytes, or nowhere. */
function remap(parts: (Part & { offset: number })[], offset: number, size: number): number | undefined {
  const part = parts.find((p) => offset >= p.src && offset + size <= p.src + p.filesz);
  return part && part.offset + (offset - part.src);
}

/** The compact file; throws if it would not load to the same memory as `bytes`. */
export function compactElf(bytes: Buffer, label: string): Buffer {
  const elf = readElf(bytes, label);
  const others = elf.phdrs.filter((p) => p.type !== PT_LOAD);
  const parts = elf.phdrs.filter((p) => p.type === PT_LOAD).flatMap((ph) => splitLoad(bytes, ph));
  let cursor = EHDR_BYTES + (parts.length + others.length) * PHDR_BYTES;
  const placed = parts.map((p) => {
    const offset = p.filesz ? placeAt(cursor, p.vaddr) : 0;
    cursor = Math.max(cursor, offset + p.filesz);
    return { ...p, offset };
  });
  // Non-loadable headers (PT_NOTE above all) point into loaded bytes; copy them when they do not.
  const extra: { from: number; size: number; at: number }[] = [];
  const otherHeaders = others.map((p) => {
    if (!p.filesz) return { ...p, offset: 0 };
    let offset = remap(placed, p.offset, p.filesz);
    if (offset === undefined) {
      offset = cursor + ((8 - (cursor % 8)) % 8);
      extra.push({ from: p.offset, size: p.filesz, at: offset });
      cursor = offset + p.filesz;
    }
    return { ...p, offset };
  });
  const out = Buffer.alloc(cursor);
  bytes.copy(out, 0, 0, EHDR_BYTES);
  out.writeBigUInt64LE(BigInt(EHDR_BYTES), 0x20); // e_phoff
  out.writeBigUInt64LE(0n, 0x28); // e_shoff: no section headers
  out.writeUInt16LE(parts.length + others.length, 0x38); // e_phnum
  out.writeUInt16LE(0, 0x3c); // e_shnum
  out.writeUInt16LE(0, 0x3e); // e_shstrndx (SHN_UNDEF)
  const headers: ProgramHeader[] = [
    ...placed.map((p) => ({ ...p.ph, offset: p.offset, vaddr: p.vaddr, paddr: p.paddr, filesz: p.filesz, memsz: p.memsz, align: BigInt(COMPACT_ALIGN) })),
    ...otherHeaders,
  ];
  headers.forEach((h, i) => writePhdr(out, EHDR_BYTES + i * PHDR_BYTES, h));
  for (const p of placed) bytes.copy(out, p.offset, p.src, p.src + p.filesz);
  for (const x of extra) bytes.copy(out, x.at, x.from, x.from + x.size);
  if (!sameLoadedImage(bytes, out, label)) throw new Error(`compactElf(${label}): the compact file would load differently (a bug)`);
  return out;
}

/** Bytes of guest memory [from, to) after loading `elf` (zero where no segment puts data). */
function imageSlice(elf: Elf, from: bigint, to: bigint): Buffer {
  const out = Buffer.alloc(Number(to - from));
  for (const p of elf.phdrs) {
    if (p.type !== PT_LOAD || !p.filesz) continue;
    const a = p.paddr > from ? p.paddr : from;
    const dataEnd = p.paddr + BigInt(p.filesz);
    const b = dataEnd < to ? dataEnd : to;
    if (a >= b) continue;
    const src = p.offset + Number(a - p.paddr);
    elf.bytes.copy(out, Number(a - from), src, src + Number(b - a));
  }
  return out;
}

/** Merged [start, end) of the memory the loadable segments cover. */
function coverage(elf: Elf): [bigint, bigint][] {
  const spans = elf.phdrs.filter((p) => p.type === PT_LOAD && p.memsz > 0n).map((p) => [p.paddr, p.paddr + p.memsz] as [bigint, bigint]);
  spans.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s[0] <= last[1]) last[1] = s[1] > last[1] ? s[1] : last[1];
    else merged.push([...s]);
  }
  return merged;
}

/** Does `b` load the same bytes to the same physical memory as `a`, with the same entry point? A malformed `b` does not. */
export function sameLoadedImage(a: Buffer, b: Buffer, label = 'kernel'): boolean {
  const x = readElf(a, label);
  let y: Elf;
  try {
    y = readElf(b, label);
  } catch (err) {
    if (err instanceof BadInputError) return false;
    throw err;
  }
  if (a.readBigUInt64LE(0x18) !== b.readBigUInt64LE(0x18)) return false;
  const cx = coverage(x);
  const cy = coverage(y);
  if (cx.length !== cy.length || cx.some(([s, e], i) => s !== cy[i][0] || e !== cy[i][1])) return false;
  const CHUNK = 1n << 20n;
  for (const [s, e] of cx) {
    for (let at = s; at < e; at += CHUNK) {
      const end = at + CHUNK < e ? at + CHUNK : e;
      if (!imageSlice(x, at, end).equals(imageSlice(y, at, end))) return false;
    }
  }
  return true;
}
