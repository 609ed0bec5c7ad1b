/**
 * A benchmark image made from real Debian packages (issue 15): two gzip -6
 * layers, as `FROM debian` + `RUN apt-get install nginx-light` would give.
 * Layer 1 is `debootstrap --variant=minbase bookworm`; layer 2 is the file
 * diff (bench/root-diff.ts) between that root and a second minbase root with
 * nginx-light and its dependencies (`--include`): every entry that is new or
 * changed, with its parent directories, and whiteouts for what it lacks.
 * Both roots are cleaned the way Debian's container images are (no .debs, no
 * apt lists, empty /dev, /proc, /sys, no host resolv.conf or hostname). Tars
 * list paths in byte order (as `find | LC_ALL=C sort`) with the owners dpkg
 * gave them. Written by bench/oci-layout.ts into a temporary directory
 * renamed into place, so a failed download leaves no layout. Needs root
 * (debootstrap chroots) and the Debian mirror. Not a test fixture: its bytes
 * depend on the mirror's day.
 *
 *   node --import tsx bench/make-debian-image.ts [DIR]   (default bench/out/debian)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OciLayoutWriter } from './oci-layout.ts';
import { byteOrder, diffLayer, walk } from './root-diff.ts';

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
