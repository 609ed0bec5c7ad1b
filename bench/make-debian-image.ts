/**
 * A benchmark image made from real Debian packages (issue 15): two gzip -6
 * layers, as `FROM debian` + `RUN apt-get install nginx-light` would give.
 * Layer 1 is `debootstrap --variant=minbase bookworm`; layer 2 is the file
 * diff between that root and a second minbase root with nginx-light and its
 * dependencies (`--include`): every entry that is new or changed (type, mode,
 * owner, link target or bytes), with its parent directories, and a `.wh.`
 * whiteout for what the second root lacks. Both roots are cleaned the way
 * Debian's container images are (no .debs, no apt lists, empty /dev, /proc,
 * /sys, no host resolv.conf or hostname). Tars list paths in byte order (as
 * `find | LC_ALL=C sort`) with the owners dpkg gave them. Written by
 * bench/oci-layout.ts into a temporary directory renamed into place, so a
 * failed download leaves no layout. Needs root (debootstrap chroots) and the Debian mirror. Not a test
 * fixture: its bytes depend on the mirror's day.
 *
 *   node --import tsx bench/make-debian-image.ts [DIR]   (default bench/out/debian)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OciLayoutWriter } from './oci-layout.ts';

const MIRROR = 'http://deb.debian.org/debian';
const SUITE = 'bookworm';
const APP_PACKAGES = 'nginx-light';
/** What Debian's container images leave out: directories emptied (their apt `partial` and `lock` kept) and host files. */
const EMPTIED = ['dev', 'proc', 'sys', 'var/cache/apt/archives', 'var/lib/apt/lists'];
const REMOVED = ['etc/resolv.conf', 'etc/hostname'];

/** One minbase root at `root` (`include`: extra packages), the .debs kept in `debs`. */
function debootstrap(root: string, debs: string, include?: string): void {
  const args = ['--variant=minbase', `--cache-dir=${debs}`, ...(include ? [`--include=${include}`] : []), SUITE, root, MIRROR];
  const r = spawnSync('debootstrap', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status === 0) return;
  const why = r.error ? r.error.message : `${(r.stderr + r.stdout).trim().split('\n').slice(-3).join(' | ')} (exit ${r.status})`;
  throw new Error(`debian benchmark image: debootstrap ${SUITE} from ${MIRROR} failed: ${why}\nhint: it needs root and the Debian mirror; rerun when ${MIRROR} is reachable (nothing was written)`);
}

function clean(root: string): void {
  for (const dir of EMPTIED) {
    for (const name of readdirSync(join(root, dir))) if (name !== 'partial' && name !== 'lock') rmSync(join(root, dir, name), { recursive: true, force: true });
  }
  for (const file of REMOVED) rmSync(join(root, file), { force: true });
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Every path under `root` (relative, no leading ./), depth first. */
function walk(root: string, rel = ''): string[] {
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
function diffLayer(lower: string, upper: string): string[] {
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

/** A tar of `paths` under `root`, in that order, owners as numbers from the files. */
function tarOf(root: string, paths: string[]): Buffer {
  return execFileSync('tar', ['--format=pax', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime', '--numeric-owner', '-C', root, '-cf', '-', '--no-recursion', '--null', '--files-from=-'], { input: paths.join('\0'), maxBuffer: 1 << 30 });
}

/** Refuses to delete a tree something is still mounted in (a debootstrap killed half-way). */
function removeWork(work: string): void {
  const mounted = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter((m) => m && m.startsWith(`${work}/`));
  if (mounted.length) throw new Error(`debian benchmark image: ${mounted.join(', ')} still mounted; left ${work} in place\nhint: umount them, then remove ${work}`);
  rmSync(work, { recursive: true, force: true });
}

/** The layout at `dir` (made once: kept until it is removed). */
export function makeDebianImage(dir: string): string {
  if (existsSync(join(dir, 'index.json'))) return dir;
  if (process.getuid?.() !== 0) throw new Error('debian benchmark image: debootstrap needs root\nhint: run make bench as root');
  const parent = dirname(resolve(dir));
  mkdirSync(parent, { recursive: true });
  const work = mkdtempSync(join(parent, 'debian-work-'));
  const debs = join(parent, 'debootstrap-debs');
  mkdirSync(debs, { recursive: true });
  try {
    const [base, app] = [join(work, 'base'), join(work, 'app')];
    debootstrap(base, debs);
    debootstrap(app, debs, APP_PACKAGES);
    clean(base);
    clean(app);
    const layout = new OciLayoutWriter(join(work, 'layout'));
    const layers = [layout.gzipLayer(tarOf(base, walk(base).sort(byteOrder))), layout.gzipLayer(tarOf(app, diffLayer(base, app)))];
    layout.image({
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['nginx', '-g', 'daemon off;'], ExposedPorts: { '80/tcp': {} }, StopSignal: 'SIGQUIT',
    }, layers);
    rmSync(dir, { recursive: true, force: true });
    renameSync(layout.dir, dir);
  } finally {
    removeWork(work);
  }
  return dir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${makeDebianImage(process.argv[2] ?? fileURLToPath(new URL('out/debian', import.meta.url)))}\n`);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
