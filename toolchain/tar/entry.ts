/**
 * The tar entry the reader yields and the writer takes: one member with its metadata folded together.
 */
import type { ByteString } from '../paths/byte-string.ts';

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'chardev' | 'blockdev' | 'directory' | 'fifo';

/** One member of a tar stream after ustar, GNU and PAX headers are folded together. */
export interface TarEntry {
  /** As stored in the archive (not normalized), as a byte string. */
  path: ByteString;
  type: TarEntryType;
  /** Permission bits including setuid/setgid/sticky (mask 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; fractional PAX mtimes are truncated. */
  mtime: number;
  /** Logical size of a regular file (expanded size for sparse files); 0 for other types. */
  size: number;
  /** Symlink target or hardlink target path, byte string; '' otherwise. */
  linkname: ByteString;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX SCHILY.xattr.* / LIBARCHIVE.xattr.*, values byte-exact. */
  xattrs: Map<string, Buffer>;
}
