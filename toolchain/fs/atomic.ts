/**
 * All-or-nothing writes, the one home for "write to a temp name beside the
 * target, then rename": a reader sees the old content or the new, never half
 * a file; a failed or interrupted write leaves no temp file behind (one left
 * by a killed process carries `.tmp-PID-RANDOM` and is never read).
 */
import { createWriteStream, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BadInputError } from '../errors/errors.ts';

/** A fresh name in the same directory as `path` (so rename stays on one filesystem). */
export function tempPathBeside(path: string, tag = 'tmp'): string {
  const abs = resolve(path);
  return join(dirname(abs), `.${basename(abs)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Run `write(tmp)` with tmp beside `near`, then rename tmp to `final()` (asked
 * only after the write succeeded); on any failure remove tmp and rethrow.
 */
async function commitTemp(near: string, write: (tmp: string) => Promise<void>, final: () => string = () => near): Promise<string> {
  await mkdir(dirname(resolve(near)), { recursive: true });
  const tmp = tempPathBeside(near);
  try {
    await write(tmp);
    const target = final();
    await rename(tmp, target);
    return target;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * writeFileAtomic for synchronous callers (the lean CLI's launcher, which
 * writes its code cache as the process ends); the directory must exist.
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = tempPathBeside(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Replace `path` with `data` atomically (`mode` applies from the first byte: secrets are never readable). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  await commitTemp(path, (tmp) => writeFile(tmp, data, { mode: opts.mode ?? 0o644 }));
}

/** Replace `path` with the bytes of `source` atomically; the stream is consumed exactly once. */
export async function writeStreamAtomic(path: string, source: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<void> {
  await commitTemp(path, (tmp) => pipeline(source, createWriteStream(tmp)));
}

/** Replace `path` with what `write` puts at the temp path it is given, for writers that need a path or a file descriptor rather than a stream. */
export async function writeAtomicWith(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  await commitTemp(path, write);
}

/**
 * Write `source` to a temp file in `dir`, then give it the name `nameAfter()`
 * returns once every byte is written: for content whose name is known only at
 * the end (a blob named by the digest of its bytes). Returns the final path.
 */
export function writeStreamAtomicNamedAfter(dir: string, source: AsyncIterable<Buffer> | Iterable<Buffer>, nameAfter: () => string): Promise<string> {
  return commitTemp(join(dir, 'unnamed'), (tmp) => pipeline(source, createWriteStream(tmp)), () => {
    const name = nameAfter();
    if (name === '' || name.includes('/') || name === '.' || name === '..') throw new Error(`writeStreamAtomicNamedAfter: ${JSON.stringify(name)} is not a file name`);
    return join(dir, name);
  });
}

/** What may already be at a directory's target. */
export type ReplacePolicy =
  /** Only an absent or empty directory (pull: never overwrite anything). */
  | 'empty-only'
  /** Absent, empty, or a directory holding `marker` (build: replace an older bundle, never anything else). */
  | { marker: string };

async function checkReplaceable(target: string, label: string, policy: ReplacePolicy): Promise<boolean> {
  let entries: string[];
  try {
    entries = await readdir(target);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return false;
    if (code === 'ENOTDIR') throw new BadInputError(`output ${label} exists and is not a directory`, { hint: 'choose another output directory' });
    throw new BadInputError(`cannot use ${label} as the output: ${code ?? (err as Error).message}`, { hint: 'choose another output directory' });
  }
  if (entries.length === 0) return true;
  if (policy === 'empty-only') {
    throw new BadInputError(`output ${label} already exists and is not empty`, { hint: 'remove it or choose another output directory' });
  }
  if (!entries.includes(policy.marker)) {
    throw new BadInputError(`output ${label} is a non-empty directory without ${policy.marker}; refusing to replace it`, { hint: 'choose another output directory' });
  }
  return true;
}

/**
 * Build a directory in a hidden temp directory beside `target` with `fill`,
 * then put it in place by rename. What is already at `target` is checked
 * against `policy` first and replaced only after `fill` succeeded, so a failed
 * fill leaves the previous directory intact.
 */
export async function replaceDirAtomic(target: string, fill: (tmpDir: string) => Promise<void>, policy: ReplacePolicy, label = target): Promise<void> {
  const out = resolve(target);
  const existing = await checkReplaceable(out, label, policy);
  await mkdir(dirname(out), { recursive: true });
  const tmp = tempPathBeside(out);
  await mkdir(tmp);
  try {
    await fill(tmp);
    if (existing) {
      const old = tempPathBeside(out, 'old');
      await rename(out, old);
      await rename(tmp, out);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, out);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Put the complete directory `dir` at `target` by rename unless something is
 * already there: for cache entries named by their content, where a concurrent
 * writer's entry is as good as ours. Returns whether `dir` was placed; when it
 * was not, `dir` is still the caller's to remove.
 */
export async function placeDirOnce(dir: string, target: string): Promise<boolean> {
  try {
    await rename(dir, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw err;
  }
}
