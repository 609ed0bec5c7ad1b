/**
 * Guest RAM. The initramfs is unpacked into guest RAM: the root is a tmpfs,
 * which the kernel caps at half of RAM, and small files round up to whole
 * pages. Its compressed copy sits in RAM too until the kernel frees it after
 * unpacking. So the default grows with the bundle:
 *
 *   default MiB = roundUp16(BASE_MIB + 2.5 × uncompressed MiB + compressed MiB)
 *
 * (With 1.25× a 150 MB image filled its root and HyperStart could not write
 * /etc/resolv.conf: ENOSPC. Bigger images belong on a disk rootfs anyway.)
 *
 * BASE_MIB covers the kernel, HyperStart, page tables and headroom for the app.
 * Measured with QEMU 7.2 TCG, the Debian cloud kernel 6.1 (virtio as modules)
 * and a busybox bundle of 1.3 MiB gzip / 2.5 MiB unpacked:
 *   q35 (bzImage):          64 MiB never reaches the kernel, 72 panics, 80 boots;
 *   microvm (PVH vmlinux):  80 MiB panics ("deadlocked on memory"), 96 boots.
 * The formula gives 144 MiB there: the worst minimum plus ~48 MiB for the app.
 * Generous is cheap: QEMU backs guest RAM lazily, untouched pages cost the host nothing.
 */
import { BadInputError } from '../errors/errors.ts';
import { parseByteSize } from '../size/byte-size.ts';

export const BASE_MIB = 128;
/** Low enough to find the smallest working size (the HyperKernel boots in far less than the default). */
export const MIN_MIB = 16;
export const MAX_MIB = 1024 * 1024;
const MiB = 1024 * 1024;

export function defaultMemoryMiB(initramfs: { size: number; uncompressedSize: number }): number {
  const raw = BASE_MIB + 2.5 * (initramfs.uncompressedSize / MiB) + initramfs.size / MiB;
  return Math.ceil(raw / 16) * 16;
}

/** Guest RAM in MiB, in the one size grammar (toolchain/size/byte-size.ts); a bare number is MiB (as QEMU's -m). */
export function parseMemory(text: string): number {
  const n = parseByteSize(text, '--memory', { bareUnit: MiB, in: MiB });
  if (n < MIN_MIB || n > MAX_MIB) throw new BadInputError(`--memory '${text}': must be between ${MIN_MIB} MiB and 1 TiB`);
  return n;
}
