/**
 * The 110-byte "newc" (SVR4, no CRC) cpio header: the magic "070701" and
 * thirteen 8-digit hex fields. It is the only cpio format the Linux kernel's
 * initramfs unpacker reads (init/initramfs.c also takes "070702", whose check
 * field it ignores).
 *
 * Hex digits are written in UPPERCASE, as the kernel's own usr/gen_init_cpio
 * and GNU cpio 2.13 write them, so our archives can be compared byte for byte
 * with theirs. Both cases are accepted when reading (the kernel does too).
 */
import { BadInputError, HyperbuildError } from '../errors/errors.ts';

export const NEWC_MAGIC = '070701';
/** newc with a byte-sum checksum; the kernel accepts it, so we read it too. */
export const NEWC_CRC_MAGIC = '070702';
export const NEWC_HEADER_SIZE = 110;
/** Largest value of any field: 8 hex digits. */
export const NEWC_FIELD_MAX = 0xffffffff;
/** Name of the entry that ends an archive; the kernel stops (and forgets hardlinks) there. */
export const NEWC_TRAILER_NAME = 'TRAILER!!!';
/** The kernel refuses names longer than PATH_MAX bytes including the NUL. */
export const NEWC_NAME_MAX = 4096;

/** The fields a writer chooses; namesize and check follow from the name and format. */
export interface CpioHeader {
  /** Hardlinks share (devmajor, devminor, ino); see newc-writer.ts. */
  ino: number;
  /** Full st_mode: S_IFMT type bits | permissions (see file-mode.ts). */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Body bytes that follow the name; for a symlink, the target's length. */
  filesize: number;
  /** Device of the file system the inode lives on (part of hardlink identity). */
  devmajor: number;
  devminor: number;
  /** For character and block devices: the device they refer to. */
  rdevmajor: number;
  rdevminor: number;
}

/** A header as found in an archive. */
export interface DecodedNewcHeader extends CpioHeader {
  magic: typeof NEWC_MAGIC | typeof NEWC_CRC_MAGIC;
  /** Name length including its terminating NUL. */
  namesize: number;
  check: number;
}

/** Field order on disk; namesize sits between rdevminor and check. */
const FIELDS = [
  'ino',
  'mode',
  'uid',
  'gid',
  'nlink',
  'mtime',
  'filesize',
  'devmajor',
  'devminor',
  'rdevmajor',
  'rdevminor',
  'namesize',
  'check',
] as const;

type FieldName = (typeof FIELDS)[number];

function fieldError(field: FieldName, value: number, name: string): HyperbuildError {
  // Every value comes from the image (sizes, times, ids, device numbers): what newc cannot hold is bad input.
  if (field === 'filesize' && Number.isSafeInteger(value) && value > NEWC_FIELD_MAX) {
    return new BadInputError(`${name}: newc cannot hold files of 4 GiB or more; use --rootfs ext4 (this file is ${value} bytes)`, {
      hint: 'An initramfs is an unpacked copy of the whole root file system in RAM; images with files this large belong on a disk root file system: --rootfs ext4.',
    });
  }
  if (field === 'mtime' && Number.isSafeInteger(value) && (value < 0 || value > NEWC_FIELD_MAX)) {
    return new BadInputError(`${name}: mtime ${value} does not fit newc's unsigned 32-bit field (1970..2106)`, {
      hint: 'clamp file times into range with --source-date-epoch (or $SOURCE_DATE_EPOCH), or use --rootfs ext4',
    });
  }
  return new BadInputError(`${name}: cpio ${field} ${value} does not fit newc's unsigned 32-bit field`, { hint: 'the image holds a value no initramfs can store: fix the image, or try a disk root filesystem (--rootfs ext4)' });
}

const HEX_DIGITS = Buffer.from('0123456789ABCDEF', 'latin1');
const MAGIC_BYTES = Buffer.from(NEWC_MAGIC, 'latin1');

/**
 * Writes header + namesize as the 110 header bytes into `out` at `at`.
 * `nameForErrors` says which entry is at fault; it is asked only on an error.
 */
export function encodeNewcHeaderInto(out: Buffer, at: number, header: CpioHeader, namesize: number, nameForErrors: () => string): void {
  MAGIC_BYTES.copy(out, at);
  let pos = at + MAGIC_BYTES.length;
  for (const field of FIELDS) {
    const value = field === 'namesize' ? namesize : field === 'check' ? 0 : header[field];
    if (!Number.isInteger(value) || value < 0 || value > NEWC_FIELD_MAX) throw fieldError(field, value, nameForErrors());
    for (let shift = 28; shift >= 0; shift -= 4) out[pos++] = HEX_DIGITS[(value >>> shift) & 0xf];
  }
}

/**
 * Encodes header + namesize into the 110 header bytes. `nameForErrors` is only
 * used to say which entry is at fault.
 */
export function encodeNewcHeader(header: CpioHeader, namesize: number, nameForErrors: string): Buffer {
  const out = Buffer.allocUnsafe(NEWC_HEADER_SIZE);
  encodeNewcHeaderInto(out, 0, header, namesize, () => nameForErrors);
  return out;
}

const HEX_FIELD = /^[0-9a-fA-F]{8}$/;

/** Decodes the 110 header bytes at archive offset `offset` (for messages). */
export function decodeNewcHeader(bytes: Buffer, offset: number, label: string): DecodedNewcHeader {
  // Magic first, even on a short read: "not cpio" says more than "truncated".
  const magic = bytes.toString('latin1', 0, Math.min(6, bytes.length));
  if (!NEWC_MAGIC.startsWith(magic) && !NEWC_CRC_MAGIC.startsWith(magic)) {
    throw new BadInputError(
      `${label}: not a newc cpio header at offset ${offset} (magic ${JSON.stringify(magic)}, expected "070701")`,
      { hint: 'Only the newc format (cpio -H newc) is supported, as in the Linux kernel.' },
    );
  }
  if (bytes.length < NEWC_HEADER_SIZE) {
    throw new BadInputError(`${label}: cpio archive truncated inside a header at offset ${offset}`);
  }
  const values = {} as Record<FieldName, number>;
  FIELDS.forEach((field, i) => {
    const start = 6 + i * 8;
    const digits = bytes.toString('latin1', start, start + 8);
    if (!HEX_FIELD.test(digits)) {
      throw new BadInputError(
        `${label}: cpio header at offset ${offset} has a malformed ${field} field ${JSON.stringify(digits)}`,
      );
    }
    values[field] = Number.parseInt(digits, 16);
  });
  return { magic: magic as DecodedNewcHeader['magic'], ...values };
}
