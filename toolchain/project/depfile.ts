/**
 * Make-format dependency files (`hyperbuild build --depfile FILE`): the
 * bundle's bundle.json depends on every host file the build read — the
 * image's local files (an OCI layout's index.json and the blobs the image
 * uses, an archive, ACI files), the kernel (and its modules), HyperStart and
 * the project file. Like `gcc -MP`, each input also gets an empty rule, so
 * a deleted input makes make rebuild instead of stopping.
 *
 * Make-friendly in both directions: the depfile is rewritten only when its
 * text changes; and when an up-to-date bundle is older than an input (the
 * input was touched, or rewritten with the same bytes), bundle.json's mtime
 * is moved to now — the bundle is current, and make must see it so, or it
 * would run the build on every invocation. Nothing else is written.
 */
import { readFile, stat, utimes } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { HyperbuildError } from '../errors/errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import type { BuildContext } from '../pipeline/build-bundle.ts';
import { hyperStartBinaryPath } from '../hyperstart/binary.ts';

/** Every host file a finished build read, in a stable order, without duplicates. */
export function buildInputFiles(ctx: BuildContext, extra: readonly string[] = []): string[] {
  const files = [
    ...extra,
    ...(ctx.image?.localFiles ?? []),
    ...(ctx.kernel ? [...(ctx.kernel.sourcePath ? [ctx.kernel.sourcePath] : []), ctx.kernel.path, ...ctx.kernel.modules.map((m) => m.hostPath)] : []),
    hyperStartBinaryPath(),
  ];
  return [...new Set(files.map((f) => resolve(f)))];
}

/** A path as make reads it: relative below the current directory, else absolute; blanks, `#`, `:` and `$` escaped. */
function makePath(path: string): string {
  const rel = relative(process.cwd(), path);
  const shown = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
  return shown.replace(/([ \t#:])/g, '\\$1').replace(/\$/g, '$$$$');
}

export function formatDepfile(target: string, inputs: readonly string[]): string {
  const t = makePath(resolve(target));
  const deps = inputs.map(makePath);
  return `${t}: ${deps.join(' \\\n  ')}\n\n${deps.map((d) => `${d}:\n`).join('')}`;
}

/** Write `depfile` unless it already holds exactly this text. */
export async function writeDepfile(depfile: string, target: string, inputs: readonly string[]): Promise<void> {
  const text = formatDepfile(target, inputs);
  if ((await readFile(depfile, 'utf8').catch(() => undefined)) === text) return;
  try {
    await writeFileAtomic(depfile, text);
  } catch (err) {
    throw new HyperbuildError(`cannot write --depfile ${depfile} (${(err as NodeJS.ErrnoException).code ?? err})`, { hint: 'choose a path in a writable directory' });
  }
}

/** Move `target`'s mtime to now when an input is newer, so make sees the up-to-date bundle as current. */
export async function freshenTarget(target: string, inputs: readonly string[]): Promise<boolean> {
  const mtime = (await stat(target)).mtimeMs;
  const newest = Math.max(...(await Promise.all(inputs.map(async (f) => (await stat(f).catch(() => undefined))?.mtimeMs ?? 0))));
  if (newest <= mtime) return false;
  const now = new Date(Math.max(Date.now(), Math.ceil(newest) + 1));
  await utimes(target, now, now);
  return true;
}
