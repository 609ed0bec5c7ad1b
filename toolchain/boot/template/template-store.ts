/**
 * Where VM templates live and how they are trusted: one directory per key under
 * `CACHE/templates/` (the kernel-independent cache dir, 0700 and owned by this
 * user: a template is never shared with another host user), each holding the
 * backend's files (QEMU: `ram`, `state`) and `template.json`, the record of
 * their digests, written last and atomically. A template is made in a hidden
 * temp directory and renamed into place whole, so a reader sees a complete
 * template or none; its files are never written again (clones map the RAM
 * file copy-on-write, and a changed file would show through their mappings).
 * Before each use every file is checked against the record — through the
 * digest memo (cache/digest-memo.ts), so an unchanged file costs a stat and a
 * touched one is rehashed. The least recently used templates beyond
 * MAX_TEMPLATES are removed when a new one is made.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readdir, readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestMemo } from '../../cache/digest-memo.ts';
import { placeDirOnce, tempPathBeside, writeFileAtomic } from '../../fs/atomic.ts';
import { diskUse } from '../../fs/disk-use.ts';

export const TEMPLATES_DIR = 'templates';
export const TEMPLATE_RECORD = 'template.json';
/** A making lock older than this is left over by a killed process and is taken over. */
const STALE_LOCK_MS = 5 * 60_000;
/** Templates kept at most; each costs the guest RAM it touched while booting (tens of MiB, see the README). */
export const MAX_TEMPLATES = 16;
const RECORD_SCHEMA = 1;

export interface TemplateRecord {
  schema: typeof RECORD_SCHEMA;
  key: string;
  /** sha256 of the bundle's bundle.json (it names every bundle file by digest). */
  bundleDigest: string;
  /** The backend's shape digest (PlanSnapshots.shape) and its parts. */
  shape: string;
  parts: Readonly<Record<string, unknown>>;
  files: Record<string, { digest: string; size: number }>;
  createdAt: string;
  /** How long making it took. */
  creationMs: number;
}

export type TemplateLookup =
  | { status: 'absent' }
  | { status: 'ready'; dir: string; record: TemplateRecord }
  | { status: 'bad'; dir: string; reason: string };

export interface TemplateEntry {
  dir: string;
  record?: TemplateRecord;
  /** Bytes on disk (allocated blocks: the RAM file is sparse). */
  diskBytes: number;
  usedMs: number;
}

/** The key of the template for a bundle (bundle.json's digest) and a backend shape. */
export function templateKey(bundleDigest: string, shape: string): string {
  return createHash('sha256').update(`hyperbuild-template-${RECORD_SCHEMA}\n${bundleDigest}\n${shape}`).digest('hex');
}

export class TemplateStore {
  readonly root: string;
  private readonly memo: DigestMemo;

  constructor(readonly cacheDir: string) {
    this.root = join(cacheDir, TEMPLATES_DIR);
    this.memo = new DigestMemo(cacheDir);
  }

  dirFor(key: string): string {
    return join(this.root, key);
  }

  /** Create the root 0700; why it cannot hold templates (another owner, open to others), or undefined. */
  async prepareRoot(): Promise<string | undefined> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    const st = await stat(this.root);
    const uid = process.geteuid?.();
    if (uid !== undefined && st.uid !== uid) return `${this.root} belongs to uid ${st.uid}, not to this user`;
    if (st.mode & 0o077) return `${this.root} is open to other users (mode ${(st.mode & 0o777).toString(8)}; want 700)`;
    return undefined;
  }

  /** The template for `key`, checked against its record, or why it cannot be trusted. */
  async find(key: string, files: readonly string[]): Promise<TemplateLookup> {
    const dir = this.dirFor(key);
    let record: TemplateRecord;
    try {
      record = JSON.parse(await readFile(join(dir, TEMPLATE_RECORD), 'utf8')) as TemplateRecord;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return (await stat(dir).catch(() => undefined)) ? { status: 'bad', dir, reason: `${TEMPLATE_RECORD} is missing` } : { status: 'absent' };
      return { status: 'bad', dir, reason: `${TEMPLATE_RECORD} is unreadable (${code ?? (err as Error).message})` };
    }
    if (record.schema !== RECORD_SCHEMA || record.key !== key) return { status: 'bad', dir, reason: `${TEMPLATE_RECORD} is not this template's record` };
    for (const name of files) {
      const want = record.files?.[name];
      if (!want) return { status: 'bad', dir, reason: `${TEMPLATE_RECORD} does not list ${name}` };
      const got = await this.memo.digest(join(dir, name)).catch((err: NodeJS.ErrnoException) => ({ digest: `(${err.code ?? err.message})`, size: -1 }));
      if (got.digest !== want.digest || got.size !== want.size) return { status: 'bad', dir, reason: `${name} does not match its recorded digest (changed or corrupted)` };
    }
    return { status: 'ready', dir, record };
  }

  /** Make the template for `key`: `fill` writes the files into a temp dir, then they are hashed, recorded and renamed into place. */
  async create(key: string, meta: Pick<TemplateRecord, 'bundleDigest' | 'shape' | 'parts'>, files: readonly string[], fill: (dir: string) => Promise<void>): Promise<{ dir: string; record: TemplateRecord }> {
    const started = Date.now();
    const target = this.dirFor(key);
    const tmp = tempPathBeside(target);
    await mkdir(tmp, { mode: 0o700 });
    try {
      await fill(tmp);
      const digests: TemplateRecord['files'] = {};
      for (const name of files) digests[name] = await this.memo.digest(join(tmp, name));
      const record: TemplateRecord = { schema: RECORD_SCHEMA, key, ...meta, files: digests, createdAt: new Date().toISOString(), creationMs: Date.now() - started };
      await writeFileAtomic(join(tmp, TEMPLATE_RECORD), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      // A concurrent boot may have made the same template first: theirs is as good as ours.
      if (!(await placeDirOnce(tmp, target))) await rm(tmp, { recursive: true, force: true });
      await this.evictBeyond(MAX_TEMPLATES, target);
      const placed = await this.find(key, files);
      if (placed.status !== 'ready') throw new Error(`the new template is not usable: ${placed.status === 'bad' ? placed.reason : 'gone'}`);
      return { dir: placed.dir, record: placed.record };
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Claim the making of `key` (an O_EXCL lock file beside its directory), so that many first boots at
   * once make one template instead of one each; false when another live process is making it.
   */
  async claim(key: string): Promise<(() => Promise<void>) | undefined> {
    const lock = `${this.dirFor(key)}.making`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await (await open(lock, 'wx', 0o600)).close();
        return () => rm(lock, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = await stat(lock).catch(() => undefined);
        if (st && Date.now() - st.mtimeMs < STALE_LOCK_MS) return undefined;
        await rm(lock, { force: true });
      }
    }
    return undefined;
  }

  /** Mark a template as just used (its directory's mtime orders eviction). */
  async touch(dir: string): Promise<void> {
    const now = new Date();
    await utimes(dir, now, now).catch(() => undefined);
  }

  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }

  /** Every template directory (half-made ones included), most recently used first. */
  async list(): Promise<TemplateEntry[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const entries: TemplateEntry[] = [];
    for (const name of names) {
      const dir = join(this.root, name);
      if (name.endsWith('.making')) continue;
      const st = await stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) continue;
      const diskBytes = await diskUse(dir);
      const record = await readFile(join(dir, TEMPLATE_RECORD), 'utf8').then((s) => JSON.parse(s) as TemplateRecord).catch(() => undefined);
      entries.push({ dir, record, diskBytes, usedMs: st.mtimeMs });
    }
    return entries.sort((a, b) => b.usedMs - a.usedMs);
  }

  private async evictBeyond(limit: number, keep: string): Promise<void> {
    const all = (await this.list()).filter((e) => e.record && e.dir !== keep);
    for (const e of all.slice(Math.max(0, limit - 1))) await this.remove(e.dir);
  }
}
