/**
 * Boot benchmark: median wall time of `hyperbuild boot` of a hello-world
 * bundle — warm (from its VM template) and cold (`--no-template`) — against
 * plain QEMU booting the Debian cloud kernel on q35 with the same initramfs
 * (HyperStart's console mode runs the app and powers off); hyperbuild's own
 * time (process start → QEMU spawn, app exit → process exit, from --verbose)
 * against `node -e 0`; the smallest -m that still boots, and peak RSS.
 * Targets (issue 11): warm ≤ 0.15×, cold ≤ 0.30× the baseline; own time ≤ 100 ms.
 * Templates live in a cache dir of this benchmark's own.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { median, row, timeShell } from './timing.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Bundle {
  dir: string;
  label: string;
}

function bootsWith(root: string, bundle: string, mib: number): boolean {
  const r = spawnSync(`${root}/bin/hyperbuild`, ['boot', '--no-template', '-m', `${mib}`, '--timeout', '60', bundle], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('Hello from hyperbuild');
}

/** Smallest MiB (to 4 MiB) that boots, by bisection between a failing and a working size. */
function smallestMemory(root: string, bundle: string): number | undefined {
  let lo = 8;
  let hi = 256;
  if (!bootsWith(root, bundle, hi)) return undefined;
  while (hi - lo > 4) {
    const mid = Math.round((lo + hi) / 2);
    if (bootsWith(root, bundle, mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** Peak RSS in MiB of the largest process of a command (GNU time's %M covers waited children). */
function peakRss(cmd: string): number {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'bash', '-c', cmd], { encoding: 'utf8' });
  return Number(r.stderr.trim().split('\n').pop()) / 1024;
}

/** hyperbuild's own time of one boot, from its --verbose line: [total, to spawn, after exit] ms. */
function ownTime(root: string, args: string[]): number[] {
  const r = spawnSync(`${root}/bin/hyperbuild`, ['boot', '--verbose', ...args], { encoding: 'utf8' });
  const m = /own time (\d+) ms \(start to \S+ spawn (\d+) ms.*app exit to process exit (\d+) ms\)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`boot --verbose gave no own time (${r.status}): ${r.stderr.slice(-500)}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function medianOf(runs: number[][], i: number): number {
  return median(runs.map((r) => r[i]));
}

function baselineSeconds(b: Bundle, cloudKernel: string): number {
  const m = JSON.parse(readFileSync(join(b.dir, 'bundle.json'), 'utf8'));
  const initrd = join(b.dir, m.initramfs.name);
  const plain = `qemu-system-x86_64 -M q35 -accel tcg -m 256 -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel ${cloudKernel} -initrd ${initrd} -append 'console=ttyS0 rdinit=/.hyperstart/init panic=-1 quiet' >/dev/null`;
  return median(Array.from({ length: RUNS }, () => timeShell(plain)));
}

function bundleRows(root: string, b: Bundle, cache: string, baseline: number): string[] {
  const hb = `${root}/bin/hyperbuild boot --cache-dir ${cache}`;
  // The first boot makes the template (timed in the template section); every timed warm boot starts from it.
  timeShell(`${hb} ${b.dir} >/dev/null 2>&1`);
  const cold = median(Array.from({ length: RUNS }, () => timeShell(`${hb} --no-template ${b.dir} >/dev/null 2>&1`)));
  const warm = median(Array.from({ length: RUNS }, () => timeShell(`${hb} ${b.dir} >/dev/null 2>&1`)));
  const own = Array.from({ length: RUNS }, () => ownTime(root, ['--cache-dir', cache, b.dir]));
  const lines = [
    row([`hyperbuild boot, cold (--no-template), ${b.label}`, cold, cold / baseline]),
    row([`hyperbuild boot, warm (VM template), ${b.label}`, warm, warm / baseline]),
    `  hyperbuild's own time, warm (${b.label}): ${medianOf(own, 0)} ms = start to QEMU spawn ${medianOf(own, 1)} ms + app exit to process exit ${medianOf(own, 2)} ms (target ≤ 100 ms)`,
  ];
  const smallest = smallestMemory(root, b.dir);
  lines.push(`  smallest -m that boots cold (${b.label}): ${smallest === undefined ? 'did not boot at 256 MiB' : `${smallest} MiB`}`);
  lines.push(`  peak RSS of hyperbuild boot + QEMU (${b.label}, default -m, warm): ${peakRss(`${hb} ${b.dir} >/dev/null 2>&1`).toFixed(0)} MiB`);
  return lines;
}

export function bootBench(root: string, bundles: Bundle[], cloudKernel: string, out: string): string[] {
  const lines = ['## boot: hello-world bundle, TCG, 2 cores (targets: warm ≤ 0.150, cold ≤ 0.300 of the baseline)', row(['what', 'median s', 'ratio'])];
  const node = median(Array.from({ length: RUNS }, () => timeShell('node -e 0')));
  for (const b of bundles) {
    const cache = join(out, `cache-boot-${b.label.replace(/\W+/g, '-')}`);
    rmSync(cache, { recursive: true, force: true });
    const baseline = baselineSeconds(b, cloudKernel);
    lines.push(row([`plain qemu q35 + Debian cloud kernel (${b.label} initramfs)`, baseline, 1]));
    lines.push(...bundleRows(root, b, cache, baseline));
    rmSync(cache, { recursive: true, force: true });
  }
  lines.push(`  for scale: node -e 0 takes ${(node * 1000).toFixed(0)} ms here`);
  return lines;
}
