/**
 * Decoded layers kept between builds, one directory per diff_id:
 * `<cache>/layers/v<FORMAT>/<hex>/` plus `<hex>.json`, written last, which
 * records the stat identity (device, inode, size, mtime and ctime in ns) of
 * every file in the directory. An entry is used only while every file keeps
 * that identity: any write, truncation, rename over or `touch` makes it a
 * miss and the layer is decoded again (the digest memo's rule). What goes in
 * was verified against the diff_id while it was decoded; the diff_id comes
 * from a config whose digest was checked.
 *
 * Not collected: entries stay until the cache directory is removed.
 */
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDigest } from '../digest/digest.ts';
import { placeDirOnce, writeFileAtomic } from '../fs/atomic.ts';

interface EntryRecord {
  key: string;
  identities: Record<string, string>;
}

async function identity(path: string): Promise<string> {
  const st = await stat(path, { bigint: true });
  return [st.dev, st.ino, st.size, st.mtimeNs, st.ctimeNs].join(':');
}

export class LayerCache {
  private readonly root: string;

  /** `format` names the layout of an entry's files; `files` are the names every entry holds. */
  constructor(cacheDir: string, format: number, private readonly files: readonly string[]) {
    this.root = join(cacheDir, 'layers', `v${format}`);
  }

  private name(key: string): string {
    const { algorithm, hex } = parseDigest(key, 'layer cache key');
    return `${algorithm}-${hex}`;
  }

  private async identities(dir: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const f of this.files) out[f] = await identity(join(dir, f));
    return out;
  }

  /** The entry's directory when it is complete and unchanged since it was stored, else undefined. */
  async lookup(key: string): Promise<string | undefined> {
    const dir = join(this.root, this.name(key));
    try {
      const record = JSON.parse(await readFile(`${dir}.json`, 'utf8')) as EntryRecord;
      if (record.key !== key) return undefined;
      const now = await this.identities(dir);
      return this.files.every((f) => record.identities[f] === now[f]) ? dir : undefined;
    } catch {
      return undefined;
    }
  }

  /** A fresh private directory in the cache to decode into (same filesystem, so it can be renamed into place). */
  async scratch(): Promise<string> {
    await mkdir(this.root, { recursive: true });
    return mkdtemp(join(this.root, '.decoding-'));
  }

  /**
   * Put the complete directory `scratch` in place as the entry for `key` and
   * record its identities. A stale entry is replaced; when another build
   * placed the same entry first, that one is used and `scratch` removed.
   */
  async store(key: string, scratch: string): Promise<string> {
    const dir = join(this.root, this.name(key));
    if ((await this.lookup(key)) === undefined) {
      await rm(`${dir}.json`, { force: true });
      await rm(dir, { recursive: true, force: true });
    }
    if (!(await placeDirOnce(scratch, dir))) await rm(scratch, { recursive: true, force: true });
    await writeFileAtomic(`${dir}.json`, JSON.stringify({ key, identities: await this.identities(dir) } satisfies EntryRecord));
    return dir;
  }
}
