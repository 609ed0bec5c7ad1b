/**
 * sha256 of files we have hashed before, remembered by the file's stat
 * identity (device, inode, size, mtime and ctime in ns): any write, rename
 * over, or `touch` changes it, so a stale digest is never returned. This turns
 * the no-op rebuild from "hash every kernel and bundle file" into a few stats.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileDigest } from '../digest/file-digest.ts';
import { writeFileAtomic } from '../fs/atomic.ts';

interface MemoEntry {
  identity: string;
  digest: string;
  size: number;
}

export class DigestMemo {
  constructor(private readonly cacheDir: string) {}

  private async identity(path: string): Promise<{ id: string; size: number }> {
    const st = await stat(path, { bigint: true });
    return { id: [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':'), size: Number(st.size) };
  }

  private entryPath(path: string): string {
    return join(this.cacheDir, 'digest-memo', `${createHash('sha256').update(resolve(path)).digest('hex')}.json`);
  }

  /** The file's digest, from the memo when the file is unchanged, else hashed (and remembered). */
  async digest(path: string): Promise<{ digest: string; size: number }> {
    const { id } = await this.identity(path);
    try {
      const entry = JSON.parse(await readFile(this.entryPath(path), 'utf8')) as MemoEntry;
      if (entry.identity === id) return { digest: entry.digest, size: entry.size };
    } catch {
      // not remembered yet
    }
    const result = await fileDigest(path);
    await this.remember(path, result.digest, id);
    return result;
  }

  /** Record a digest we already know (e.g. of a file we just wrote from verified bytes). */
  async remember(path: string, digest: string, knownIdentity?: string): Promise<void> {
    const { id, size } = knownIdentity ? { id: knownIdentity, size: Number(knownIdentity.split(':')[2]) } : await this.identity(path);
    await writeFileAtomic(this.entryPath(path), JSON.stringify({ identity: id, digest, size } satisfies MemoEntry));
  }
}
