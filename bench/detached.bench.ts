/**
 * Detached VMs (issue 12): N (default 20, BENCH_DETACHED_VMS) idle VMs
 * started one after another with `hyperbuild run -d` (TCG unless KVM really
 * works): the wall time of each `run -d` until it printed the ID (the app
 * runs), and the host memory each VM costs — PSS from /proc/PID/smaps_rollup
 * of its QEMU and of its supervisor (no Node process stays). Warm (from the
 * bundle's VM template, made by one `run -d` before the timed ones) and then
 * cold (`--no-template`), one fleet at a time. Targets: ≤ 28 MiB per VM and
 * ≤ 0.5 s per `run -d`. A state root and cache of its own; every VM is
 * removed with rm -f after each fleet.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { median, row } from './timing.ts';

const VMS = Number(process.env.BENCH_DETACHED_VMS ?? 20);
const MiB = 1024 * 1024;

function smaps(pid: number, field: 'Pss' | 'Rss'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface Started { seconds: number; qemu: number; supervisor: number }

function runDetached(root: string, env: NodeJS.ProcessEnv, bundle: string, name: string, flags: string[]): Started {
  const t = process.hrtime.bigint();
  const r = spawnSync(`${root}/bin/hyperbuild`, ['run', '-d', ...flags, '--name', name, bundle, '--', 'sleep', '1000000'], { env, encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0 || !/^[0-9a-f]{64}\n$/.test(r.stdout)) throw new Error(`run -d failed (${r.status}): ${r.stderr.slice(-1000)}`);
  const status = JSON.parse(readFileSync(join(env.HYPERBUILD_STATE_DIR!, r.stdout.slice(0, 12), 'status.json'), 'utf8'));
  return { seconds, qemu: status.qemu.pid, supervisor: status.supervisor.pid };
}

function fleetRows(label: string, vms: Started[]): string[] {
  const qemuPss = vms.map((v) => smaps(v.qemu, 'Pss'));
  const supPss = vms.map((v) => smaps(v.supervisor, 'Pss'));
  const supRss = vms.map((v) => smaps(v.supervisor, 'Rss'));
  const perVm = vms.map((_, i) => qemuPss[i] + supPss[i]);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const times = vms.map((v) => v.seconds);
  return [
    row([`${label}: run -d → ID printed, median (s)`, median(times), 0.5, median(times) / 0.5]),
    row([`${label}: run -d → ID printed, max (s)`, Math.max(...times), 0.5, Math.max(...times) / 0.5]),
    row([`${label}: host PSS per VM, QEMU + supervisor (MiB)`, mean(perVm) / MiB, 28, mean(perVm) / MiB / 28]),
    row([`${label}:   of which QEMU (MiB)`, mean(qemuPss) / MiB, '', '']),
    row([`${label}:   of which supervisor PSS (MiB)`, mean(supPss) / MiB, '', '']),
    row([`${label}: supervisor RSS, max (MiB)`, Math.max(...supRss) / MiB, 5, Math.max(...supRss) / MiB / 5]),
  ];
}

export function detachedBench(root: string, bundle: string, out: string): string[] {
  const state = mkdtempSync(join(out, 'state-'));
  const cache = mkdtempSync(join(out, 'cache-detached-'));
  const env = { ...process.env, HYPERBUILD_STATE_DIR: state };
  const hb = (...args: string[]) => spawnSync(`${root}/bin/hyperbuild`, args, { env, encoding: 'utf8' });
  const removeAll = () => {
    const ids = hb('ps', '-aq').stdout.split('\n').filter(Boolean);
    if (ids.length) hb('rm', '-f', ...ids);
  };
  const lines = [`detached VMs: ${VMS} idle VMs (sleep), started one by one with run -d; warm, then cold`, row(['', 'measured', 'target', 'ratio'])];
  try {
    runDetached(root, env, bundle, 'bench-template', ['--cache-dir', cache]); // makes the template: not timed
    removeAll();
    for (const [label, flags] of [['warm', ['--cache-dir', cache]], ['cold', ['--cache-dir', cache, '--no-template']]] as const) {
      const vms: Started[] = [];
      for (let i = 0; i < VMS; i++) vms.push(runDetached(root, env, bundle, `bench-${label}-${i}`, [...flags]));
      lines.push(...fleetRows(label, vms));
      removeAll();
    }
    return lines;
  } finally {
    removeAll();
    rmSync(state, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
}
