/**
 * The file diff of two root directories as an image layer's path list (for
 * bench/make-debian-image.ts): what `upper` holds that `lower` does not, or
 * holds differently (type, mode, owner, link target, bytes; not mtimes), each
 * with its parent directories, plus a `.wh.NAME` whiteout (created in
 * `upper`) for the first path of each subtree `upper` lacks. Paths are
 * relative, without `./`, in byte order (as `LC_ALL=C sort`).
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';

export const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Every path under `root` (relative, no leading ./), depth first. */
export function walk(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, rel))) {
    const path = rel ? `${rel}/${name}` : name;
    out.push(path);
    if (lstatSync(join(root, path)).isDirectory()) out.push(...walk(root, path));
  }
  return out;
}

function sameEntry(a: Stats, pathA: string, b: Stats, pathB: string): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.isSymbolicLink()) return readlinkSync(pathA) === readlinkSync(pathB);
  if (a.isFile()) return a.size === b.size && readFileSync(pathA).equals(readFileSync(pathB));
  return a.isDirectory() || a.rdev === b.rdev;
}

/**
 * The paths of `upper` that layer 2 must hold against `lower`: new or
 * changed entries with their parent directories, plus whiteouts, which are
 * created in `upper` (an empty `.wh.NAME` beside the first missing path).
 */
export function diffLayer(lower: string, upper: string): string[] {
  const upperPaths = walk(upper);
  const inUpper = new Set(upperPaths);
  const keep = new Set<string>();
  const addWithParents = (path: string) => {
    for (let p = path; p && !keep.has(p); p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '') keep.add(p);
  };
  for (const path of upperPaths) {
    const l = lstatMaybe(join(lower, path));
    if (!l || !sameEntry(l, join(lower, path), lstatSync(join(upper, path)), join(upper, path))) addWithParents(path);
  }
  for (const path of walk(lower)) {
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    // Under a parent the upper root lacks or made a non-directory, the parent's own change hides it.
    if (inUpper.has(path) || (parent && !lstatMaybe(join(upper, parent))?.isDirectory())) continue;
    const whiteout = parent ? `${parent}/.wh.${path.slice(parent.length + 1)}` : `.wh.${path}`;
    writeFileSync(join(upper, whiteout), '');
    addWithParents(whiteout);
  }
  return [...keep].sort(byteOrder);
}

function lstatMaybe(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
