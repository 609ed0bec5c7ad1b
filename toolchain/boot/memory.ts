/**
 * Guest RAM. The initramfs is unpacked into guest RAM (rootfs is a tmpfs), and
 * its compressed copy sits in RAM too until the kernel frees it after unpacking,
 * so the default grows with the bundle:
 *
 *   default MiB = roundUp16(BASE_MIB + 1.25 × uncompressed MiB + compressed MiB)
 *
 * BASE_MIB covers the kernel, HyperStart, page tables and headroom for the app;
 * it comes from measuring the smallest -m that boots the test bundle (see
 * tests/boot-qemu-run.test.ts and the report of the boot issue).
 */
import { BadInputError } from '../errors/errors.ts';

export const BASE_MIB = 96;
export const MIN_MIB = 32;
export const MAX_MIB = 1024 * 1024;
const MiB = 1024 * 1024;

export function defaultMemoryMiB(initramfs: { size: number; uncompressedSize: number }): number {
  const raw = BASE_MIB + 1.25 * (initramfs.uncompressedSize / MiB) + initramfs.size / MiB;
  return Math.ceil(raw / 16) * 16;
}

/** `512`, `512m`, `512M`, `512MiB`, `2g`, `2G`, `2GiB`; a bare number is MiB (as QEMU's -m). */
export function parseMemory(text: string): number {
  const m = /^(\d+)\s*([mMgG])?(?:i?[bB])?$/.exec(text.trim());
  if (!m) throw new BadInputError(`--memory '${text}': expected a size like 256m or 1g`);
  const n = Number(m[1]) * (m[2] && m[2].toLowerCase() === 'g' ? 1024 : 1);
  if (n < MIN_MIB || n > MAX_MIB) throw new BadInputError(`--memory '${text}': must be between ${MIN_MIB} MiB and 1 TiB`);
  return n;
}
