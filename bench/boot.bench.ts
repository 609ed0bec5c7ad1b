/**
 * Boot benchmark: median wall time of `hyperbuild boot` of a hello-world
 * bundle against plain QEMU booting the Debian cloud kernel on q35 with the
 * same initramfs (HyperStart's console mode runs the app and powers off), the
 * smallest -m that still boots, and QEMU's peak RSS. One bundle per kernel.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, row, timeShell } from './timing.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface Bundle {
  dir: string;
  label: string;
}

function bootsWith(root: string, bundle: string, mib: number): boolean {
  const r = spawnSync(`${root}/bin/hyperbuild`, ['boot', '-m', `${mib}`, '--timeout', '60', bundle], { encoding: 'utf8' });
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

export function bootBench(root: string, bundles: Bundle[], cloudKernel: string): string[] {
  const lines = ['## boot: hello-world bundle, TCG, 2 cores', row(['what', 'median s', 'ratio'])];
  const baselines: number[] = [];
  for (const b of bundles) {
    const m = JSON.parse(readFileSync(join(b.dir, 'bundle.json'), 'utf8'));
    const initrd = join(b.dir, m.initramfs.name);
    const plain = `qemu-system-x86_64 -M q35 -accel tcg -m 256 -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel ${cloudKernel} -initrd ${initrd} -append 'console=ttyS0 rdinit=/.hyperstart/init panic=-1 quiet' >/dev/null`;
    const baseline = median(Array.from({ length: RUNS }, () => timeShell(plain)));
    baselines.push(baseline);
    const ours = median(Array.from({ length: RUNS }, () => timeShell(`${root}/bin/hyperbuild boot ${b.dir} >/dev/null 2>&1`)));
    lines.push(row([`plain qemu q35 + Debian cloud kernel (${b.label} initramfs)`, baseline, 1]));
    lines.push(row([`hyperbuild boot, ${b.label}`, ours, ours / baseline]));
    const smallest = smallestMemory(root, b.dir);
    lines.push(`  smallest -m that boots (${b.label}): ${smallest === undefined ? 'did not boot at 256 MiB' : `${smallest} MiB`}`);
    lines.push(`  peak RSS of hyperbuild boot + QEMU (${b.label}, default -m): ${peakRss(`${root}/bin/hyperbuild boot ${b.dir} >/dev/null 2>&1`).toFixed(0)} MiB`);
  }
  return lines;
}
