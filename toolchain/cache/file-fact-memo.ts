/**
 * Facts that are fixed by a few host files — a program's `--version` line
 * (fixed by its binary), a Debian package's version (fixed by dpkg's
 * database), a kernel image's format (fixed by its bytes) — remembered by
 * the stat identity of those files (device, inode, size, mtime and ctime in
 * ns). Any upgrade, rename over or `touch` changes the identity, so a stale
 * fact is never returned; an unchanged host answers with a few stats instead
 * of spawning processes or reading a 20 MB kernel, which is most of what a
 * no-op build used to spend. A memo that cannot be read or written only
 * costs the recomputation.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.ts';

/**
 * File timestamps come from a coarse clock (a jiffy; seconds on some
 * filesystems), so a file rewritten with the same size within one tick keeps
 * its identity. Like git's "racy" index entries, a fact recorded less than
 * this long after a file's mtime is not trusted; it is recomputed until the
 * file has been left alone that long.
 */
const RACY_MS = 2000;

async function identity(path: string): Promise<{ id: string; mtimeMs: number }> {
  try {
    const st = await stat(path, { bigint: true });
    return { id: [path, st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':'), mtimeMs: Number(st.mtimeNs / 1_000_000n) };
  } catch {
    return { id: `${path}:absent`, mtimeMs: 0 };
  }
}

/** Where `command` resolves on PATH (as spawn would find it), or the bare name when it does not. */
export async function programPath(command: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (command.includes('/')) return command;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    if ((await stat(candidate).catch(() => undefined))?.isFile()) return candidate;
  }
  return command;
}

export class FileFactMemo {
  constructor(private readonly cacheDir: string) {}

  /** The fact named `name`: remembered while every file in `files` keeps its identity, else computed and remembered. */
  async get<T>(name: string, files: readonly string[], compute: () => Promise<T>): Promise<T> {
    const path = join(this.cacheDir, 'fact-memo', `${createHash('sha256').update(name).digest('hex')}.json`);
    const found = await Promise.all(files.map(identity));
    const ids = found.map((f) => f.id);
    try {
      const saved = JSON.parse(await readFile(path, 'utf8')) as { name: string; ids: string[]; recordedMs: number; value: T };
      const settled = found.every((f) => f.mtimeMs < saved.recordedMs - RACY_MS);
      if (saved.name === name && JSON.stringify(saved.ids) === JSON.stringify(ids) && settled) return saved.value;
    } catch {
      // not remembered yet
    }
    const recordedMs = Date.now();
    const value = await compute();
    await writeFileAtomic(path, JSON.stringify({ name, ids, recordedMs, value })).catch(() => undefined);
    return value;
  }
}
