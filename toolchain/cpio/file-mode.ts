/**
 * st_mode as Linux stores it: newc carries the whole word (type + permission
 * bits), and the kernel's unpacker dispatches on the S_IFMT bits, so the type
 * must be right, not just the permissions.
 */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** Permission bits including setuid, setgid and sticky. */
export const PERMISSION_MASK = 0o7777;

export type FileType = 'file' | 'directory' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

const TYPE_BITS: Record<FileType, number> = {
  file: S_IFREG,
  directory: S_IFDIR,
  symlink: S_IFLNK,
  chardev: S_IFCHR,
  blockdev: S_IFBLK,
  fifo: S_IFIFO,
  socket: S_IFSOCK,
};

export function makeMode(type: FileType, permissions: number): number {
  return TYPE_BITS[type] | (permissions & PERMISSION_MASK);
}

const TYPE_OF_BITS = new Map((Object.entries(TYPE_BITS) as [FileType, number][]).map(([type, bits]) => [bits, type]));

/** undefined for type bits no Linux file has (e.g. 0 from a sloppy writer). */
export function fileTypeOf(mode: number): FileType | undefined {
  return TYPE_OF_BITS.get(mode & S_IFMT);
}
