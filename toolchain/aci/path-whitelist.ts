/**
 * appc pathWhitelist: "whitelist of absolute paths that will exist in the
 * app's rootfs after rendering ... all non-specified files from all
 * dependencies will be omitted". An image's whitelist therefore filters its
 * own files and those of everything below it in the dependency tree; an
 * empty list means "everything".
 *
 * Listed paths survive exactly (a listed directory does not bring its
 * contents: the list is "complete"). Directories above a listed path survive
 * too, so they keep their own owner, mode and mtime instead of being made up
 * by the tree.
 */
import type { ByteString } from '../paths/byte-string.ts';
import { textToByteString } from '../paths/byte-string.ts';
import { pathComponents } from '../tree/rootfs-tree.ts';

export type PathFilter = (path: ByteString, type: string) => boolean;

function compile(list: string[]): PathFilter {
  const exact = new Set<ByteString>();
  const ancestors = new Set<ByteString>();
  for (const p of list) {
    const parts = pathComponents(textToByteString(p), 'pathWhitelist entry');
    exact.add(parts.join('/'));
    for (let i = 1; i < parts.length; i++) ancestors.add(parts.slice(0, i).join('/'));
  }
  return (path, type) => exact.has(path) || (type === 'directory' && ancestors.has(path));
}

/** A filter that passes only what every non-empty whitelist in `lists` keeps. */
export function whitelistFilter(lists: string[][]): PathFilter {
  const filters = lists.filter((l) => l.length > 0).map(compile);
  return (path, type) => filters.every((f) => f(path, type));
}
