/**
 * What a file or a directory tree takes on disk: the allocated bytes
 * (st_blocks × 512) of its files, so a sparse file counts what it holds, not
 * its length. Symlinks are counted, never followed; directories' own blocks
 * are not counted. What cannot be read counts 0 (a tree shrinking meanwhile).
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function diskUse(path: string): Promise<number> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return st.blocks * 512;
  let total = 0;
  for (const name of await readdir(path).catch(() => [] as string[])) total += await diskUse(join(path, name));
  return total;
}
