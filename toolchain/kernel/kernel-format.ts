/**
 * What kind of kernel image a file is, from its bytes: an ELF `vmlinux`
 * (PVH-bootable when it carries Xen's PHYS32_ENTRY note, which is what QEMU
 * microvm, Firecracker and `-kernel` on q35 look for) or an x86 `bzImage`
 * (the "HdrS" boot protocol signature at 0x202). The file name and the
 * user's word are not trusted: booting the wrong format fails silently.
 */
import { open } from 'node:fs/promises';
import { BadInputError } from '../errors/errors.ts';

export interface KernelFormat {
  format: 'vmlinux' | 'bzImage';
  pvh: boolean;
  /** `uname -r` read from the image, when it can be found. */
  release?: string;
}

/** Xen's ELF note type for the 32-bit PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY). */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;
const PT_NOTE = 4;
const SHT_NOTE = 7;
/** The bzImage setup header lives at 0x1f1; its magic "HdrS" at 0x202. */
const HDRS_OFFSET = 0x202;
const HDRS_MAGIC = 0x53726448;

export async function detectKernelFormat(path: string): Promise<KernelFormat> {
  const file = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new BadInputError(`cannot read kernel ${path}: ${err.code ?? err.message}`, { cause: err });
  });
  try {
    // Kernels are tens of MB at most; one read keeps the parsing simple.
    const bytes = await file.readFile();
    return detectKernelFormatOf(bytes, path);
  } finally {
    await file.close();
  }
}

export function detectKernelFormatOf(bytes: Buffer, label: string): KernelFormat {
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === 0x7f454c46) return elfFormat(bytes, label);
  if (bytes.length >= HDRS_OFFSET + 4 && bytes.readUInt32LE(HDRS_OFFSET) === HDRS_MAGIC) return { format: 'bzImage', pvh: false, release: bzImageRelease(bytes) };
  throw new BadInputError(`${label} is not a kernel: neither an ELF vmlinux nor a bzImage (no 'HdrS' at 0x202)`, {
    hint: 'pass a vmlinux or bzImage (e.g. /boot/vmlinuz-*), or drop --kernel to use HyperKernel',
  });
}

function elfFormat(bytes: Buffer, label: string): KernelFormat {
  // EI_CLASS 2 = 64-bit, EI_DATA 1 = little-endian, e_machine 62 = x86-64.
  if (bytes.length < 64 || bytes[4] !== 2 || bytes[5] !== 1 || bytes.readUInt16LE(18) !== 62) {
    throw new BadInputError(`${label} is an ELF file but not a 64-bit x86-64 kernel`, { hint: 'hyperbuild boots x86_64 guests only' });
  }
  return { format: 'vmlinux', pvh: hasPvhNote(bytes), release: linuxVersionRelease(bytes) };
}

/** Loaders find notes through PT_NOTE segments; section headers are the fallback for odd links. */
function hasPvhNote(b: Buffer): boolean {
  const ranges: [number, number][] = [];
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > b.length) break;
    if (b.readUInt32LE(ph) === PT_NOTE) ranges.push([Number(b.readBigUInt64LE(ph + 8)), Number(b.readBigUInt64LE(ph + 32))]);
  }
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  for (let i = 0; shoff && i < shnum; i++) {
    const sh = shoff + i * shentsize;
    if (sh + 64 > b.length) break;
    if (b.readUInt32LE(sh + 4) === SHT_NOTE) ranges.push([Number(b.readBigUInt64LE(sh + 24)), Number(b.readBigUInt64LE(sh + 32))]);
  }
  return ranges.some(([offset, size]) => notesContainXenEntry(b, offset, Math.min(offset + size, b.length)));
}

function notesContainXenEntry(b: Buffer, start: number, end: number): boolean {
  let p = start;
  while (p + 12 <= end) {
    const namesz = b.readUInt32LE(p);
    const descsz = b.readUInt32LE(p + 4);
    const type = b.readUInt32LE(p + 8);
    const name = b.toString('latin1', p + 12, p + 12 + Math.max(0, namesz - 1));
    if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return true;
    p += 12 + align4(namesz) + align4(descsz);
  }
  return false;
}

const align4 = (n: number) => (n + 3) & ~3;

/** vmlinux keeps `linux_banner` ("Linux version <release> (...") uncompressed in .rodata. */
function linuxVersionRelease(b: Buffer): string | undefined {
  const marker = Buffer.from('Linux version ');
  for (let at = b.indexOf(marker); at >= 0; at = b.indexOf(marker, at + 1)) {
    const m = /^Linux version (\S+) \(/.exec(b.toString('latin1', at, at + 200));
    if (m) return m[1];
  }
  return undefined;
}

/** Boot protocol >= 2.00: kernel_version (0x20e) points at "<release> (user@host) #1 ..." minus 0x200. */
function bzImageRelease(b: Buffer): string | undefined {
  if (b.readUInt16LE(0x206) < 0x200) return undefined;
  const at = b.readUInt16LE(0x20e) + 0x200;
  if (at <= 0x200 || at >= b.length) return undefined;
  const text = b.toString('latin1', at, Math.min(at + 200, b.length));
  const release = text.slice(0, text.indexOf('\0') >= 0 ? text.indexOf('\0') : undefined).split(' ')[0];
  return release || undefined;
}
