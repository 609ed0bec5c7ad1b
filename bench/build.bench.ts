/**
 * Build benchmark (issue 15), on two images: the ~150 MB, 4-layer image of
 * bench/make-big-image.ts and the two-layer Debian one of
 * bench/make-debian-image.ts (minbase + nginx-light), each through the peer
 * pipeline a user would script (umoci raw unpack + find | sort | GNU cpio -o
 * -H newc + the same compressor with the same parameters), unpacking into
 * tmpfs (TMPDIR=/dev/shm, the peer to beat) and into a directory on disk, and
 * through `hyperbuild build` with a cold cache (blobs local). Then the
 * incremental case: the same image plus one small app layer, built after the
 * base image was built into the same cache, against a cold build of it.
 * Every figure is the median of RUNS runs of GNU time: wall seconds, CPU
 * seconds (user + system, of the whole process tree: less sensitive to the
 * machine's load than wall time) and peak RSS (the largest process). Ratios
 * are printed; nothing here asserts a time.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { makeAppImage, makeBigImage } from './make-big-image.ts';
import { makeDebianImage } from './make-debian-image.ts';
import { layoutFacts } from './oci-layout.ts';
import { median, timeCommand } from './timing.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Kernels are shared with the machine's cache; everything else starts cold. */
const kernelEnv = { HYPERBUILD_KERNEL_CACHE_DIR: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? join(process.env.HOME ?? '/root', '.cache', 'hyperbuild') };
const COMPRESSORS = [['lz4', 'lz4 -q -l -1'], ['gzip', 'gzip -6 -n'], ['zstd', 'zstd -q -9 -T2']] as const;

interface Measured {
  wall: number;
  cpu: number;
  rssMiB: number;
}

/** One run of `cmd` under GNU time. */
function measure(cmd: string, env: NodeJS.ProcessEnv = {}): Measured {
  const out = join(mkdtempSync('/tmp/hb-bench-time-'), 'time');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', out, 'bash', '-c', cmd], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`benchmark command failed (${r.status}): ${cmd}\n${r.stderr.slice(-2000)}`);
  const [wall, user, sys, rssKiB] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  rmSync(join(out, '..'), { recursive: true, force: true });
  return { wall, cpu: user + sys, rssMiB: rssKiB / 1024 };
}

function medians(runs: Measured[]): Measured {
  return { wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu)), rssMiB: median(runs.map((r) => r.rssMiB)) };
}

const repeat = (f: (i: number) => Measured): Measured => medians(Array.from({ length: RUNS }, (_, i) => f(i)));

function line(what: string, m: Measured, versus?: Measured): string {
  const cells = [what.padEnd(58), m.wall.toFixed(2).padStart(7), m.cpu.toFixed(2).padStart(7), m.rssMiB.toFixed(0).padStart(7)];
  if (versus) cells.push(`${(versus.wall / m.wall).toFixed(2)}x`.padStart(8), `${(versus.cpu / m.cpu).toFixed(2)}x`.padStart(8));
  return cells.join(' ');
}

function peer(image: string, workDir: string, compressor: string): Measured {
  const dir = mkdtempSync(join(workDir, 'peer-'));
  try {
    return measure(`umoci raw unpack --image ${image}:latest ${dir}/rootfs >/dev/null 2>&1 && cd ${dir}/rootfs && find . | LC_ALL=C sort | cpio -o -H newc --quiet | ${compressor} > ${dir}/initramfs`, { TMPDIR: workDir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function hyperbuild(root: string, image: string, out: string, cache: string, compression: string): Measured {
  return measure(`${root}/bin/hyperbuild build oci:${image}:latest -o ${out} --compression ${compression} --cache-dir ${cache} --json >/dev/null`, kernelEnv);
}

/** Cold builds of `app` against builds of `app` whose lower layers were decoded by a build of `base` into the same cache. */
function incremental(root: string, base: string, app: string, work: string, compression: string): { cold: Measured; warm: Measured } {
  const cold = repeat((i) => hyperbuild(root, app, join(work, `app-cold-${compression}-${i}`), join(work, `cache-app-cold-${compression}-${i}`), compression));
  const warm = repeat((i) => {
    const cache = join(work, `cache-app-warm-${compression}-${i}`);
    hyperbuild(root, base, join(work, `base-${compression}-${i}`), cache, compression);
    return hyperbuild(root, app, join(work, `app-warm-${compression}-${i}`), cache, compression);
  });
  return { cold, warm };
}

interface BenchImage {
  name: string;
  image: string;
  /** The same image plus one small app layer (bench/make-big-image.ts makeAppImage). */
  app: string;
}

/** BENCH_BUILD_IMAGES=big,debian (default both) picks the images. */
function benchImages(benchOut: string): BenchImage[] {
  const makers: Record<string, () => string> = { big: () => makeBigImage(join(benchOut, 'big')), debian: () => makeDebianImage(join(benchOut, 'debian')) };
  return (process.env.BENCH_BUILD_IMAGES ?? 'big,debian').split(',').map((name) => {
    if (!makers[name]) throw new Error(`BENCH_BUILD_IMAGES: no image ${name}\nhint: name some of ${Object.keys(makers).join(', ')}`);
    const image = makers[name]();
    return { name, image, app: makeAppImage(join(benchOut, `${name}-app`), image) };
  });
}

function describe(image: BenchImage): string {
  const f = layoutFacts(image.image);
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return `${image.name}: ${f.layers} gzip layers, ${f.entries} entries, ${f.files} files, ${mb(f.fileBytes)} MB of files, ${mb(f.compressedBytes)} MB compressed`;
}

const HEADER = `${'pipeline'.padEnd(58)} ${'wall s'.padStart(7)} ${'CPU s'.padStart(7)} ${'RSS MiB'.padStart(7)} ${'wall'.padStart(8)} ${'CPU'.padStart(8)}`;

/** Peer (tmpfs, disk) against cold and no-op hyperbuild builds, per compressor. */
function coldTable(root: string, image: BenchImage, work: string, shm: string): string[] {
  const lines = [`## build: ${describe(image)}; blobs local, medians of ${RUNS} (ratios: peer on tmpfs / this)`, HEADER];
  for (const [compression, compressor] of COMPRESSORS) {
    const onTmpfs = repeat(() => peer(image.image, shm, compressor));
    const onDisk = repeat(() => peer(image.image, work, compressor));
    const at = (i: number) => [join(work, `hb-${image.name}-${compression}-${i}`), join(work, `cache-${image.name}-${compression}-${i}`)] as const;
    const ours = repeat((i) => hyperbuild(root, image.image, ...at(i), compression));
    const noop = repeat(() => hyperbuild(root, image.image, ...at(0), compression));
    lines.push(line(`peer, unpacked to tmpfs: umoci + cpio + ${compressor}`, onTmpfs, onTmpfs));
    lines.push(line(`peer, unpacked to disk`, onDisk, onTmpfs));
    lines.push(line(`hyperbuild build --compression ${compression} (cold cache)`, ours, onTmpfs));
    lines.push(line(`hyperbuild build, no-op rebuild`, noop, onTmpfs));
  }
  return lines;
}

function incrementalTable(root: string, image: BenchImage, work: string): string[] {
  const lines = [`## incremental (${image.name}): the same image + one small app layer, its lower layers decoded before (ratios: cold / incremental)`, HEADER];
  const at = join(work, image.name);
  mkdirSync(at);
  for (const compression of ['lz4', 'gzip']) {
    const { cold, warm } = incremental(root, image.image, image.app, at, compression);
    lines.push(line(`hyperbuild build --compression ${compression}, cold cache`, cold, cold));
    lines.push(line(`hyperbuild build --compression ${compression}, lower layers cached`, warm, cold));
  }
  return lines;
}

/** How loaded the machine is: the median of 5 `node -e 0` and the load averages. */
function loadGauge(): string {
  const nodeStart = median(Array.from({ length: 5 }, () => timeCommand(process.execPath, ['-e', '0'])));
  return `load: node -e 0 ${nodeStart.toFixed(3)} s, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${new Date().toISOString()})`;
}

export function buildBench(root: string, benchOut: string): string[] {
  const images = benchImages(benchOut);
  const work = mkdtempSync(join(benchOut, 'build-work-'));
  const shm = mkdtempSync('/dev/shm/hb-bench-');
  const lines: string[] = [loadGauge(), ''];
  try {
    for (const image of images) lines.push(...coldTable(root, image, work, shm), '');
    for (const image of images) lines.push(...incrementalTable(root, image, work), '');
    lines.push(loadGauge());
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(shm, { recursive: true, force: true });
  }
  return lines;
}
