/**
 * Tar typeflags: which are real entries of which type, and which never carry data.
 */
import type { TarEntryType } from './entry.ts';

/**
 * Typeflags of real entries. '7' (contiguous) is a regular file everywhere
 * that matters; 'S' (old GNU sparse) is a file whose body needs expanding.
 */
const ENTRY_TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  S: 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'chardev',
  '4': 'blockdev',
  '5': 'directory',
  // GNU incremental dumpdir: a directory whose body lists its contents; the listing is irrelevant here.
  D: 'directory',
  '6': 'fifo',
};

export function entryTypeOf(typeflag: string): TarEntryType | undefined {
  return Object.hasOwn(ENTRY_TYPES, typeflag) ? ENTRY_TYPES[typeflag] : undefined;
}

/**
 * Types whose size field is ignored and which never carry data, as in Go's
 * archive/tar (what Docker and containerd unpack layers with). Honouring a
 * nonzero size there would make us and them disagree about where the next
 * header starts — a classic way to hide members from one of the two.
 */
export function isHeaderOnly(typeflag: string): boolean {
  return typeflag >= '1' && typeflag <= '6';
}

export const TYPEFLAG_OF: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  directory: '5',
  fifo: '6',
};
