/**
 * Project templates (the package's templates/ folder) and `hyperbuild init`'s
 * copy of one: every file of the template into the target directory, modes
 * kept, never over an existing file — all targets are checked before the
 * first is written, and each is created exclusively.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { BadInputError } from '../errors/errors.ts';
import { packageRoot } from '../hyperstart/binary.ts';

export const DEFAULT_TEMPLATE = 'plain';

export function templatesDir(): string {
  return join(packageRoot(), 'templates');
}

export async function templateNames(): Promise<string[]> {
  const entries = await readdir(templatesDir(), { withFileTypes: true });
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

/** Every file of a template, as paths relative to it. */
async function templateFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

/** Copy template `name` into `target`; returns the files written, relative to `target`. */
export async function copyTemplate(name: string, target: string): Promise<string[]> {
  const names = await templateNames();
  if (!names.includes(name)) throw new BadInputError(`no template '${name}'`, { hint: `templates: ${names.join(', ')}` });
  const source = join(templatesDir(), name);
  const files = await templateFiles(source);
  const existing = [];
  for (const f of files) if (await stat(join(target, f)).catch(() => undefined)) existing.push(join(target, f));
  if (existing.length) {
    throw new BadInputError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; init never overwrites a file`, {
      hint: 'run it in an empty directory (hyperbuild init DIR), or move those files away',
    });
  }
  for (const f of files) {
    await mkdir(dirname(join(target, f)), { recursive: true });
    // COPYFILE_EXCL: a file that appeared since the check is still never overwritten.
    await copyFile(join(source, f), join(target, f), constants.COPYFILE_EXCL);
  }
  return files;
}
