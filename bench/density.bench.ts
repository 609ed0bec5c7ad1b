/**
 * Density and VM templates: N (default 20, BENCH_DENSITY_VMS) concurrent idle
 * VMs of one bundle, each running busybox httpd and answering HTTP through
 * its own `-p`, started warm (from the VM template) and then cold
 * (`--no-template`): the time until all N answer, and the host memory each
 * costs — PSS from /proc/PID/smaps_rollup of its QEMU and of its hyperbuild
 * (Node) process, so pages shared between VMs (the template's RAM file in
 * the page cache, QEMU's and Node's code) are split between them. A third
 * row starts the N VMs detached (`run -d`, all at once, warm), where no Node
 * process stays: QEMU plus its C supervisor. Target (issue 11): ≤ 28 MiB per
 * VM. Also the template's making: time (median of BENCH_RUNS first boots
 * into an empty cache) and its size on disk.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { median, row } from './timing.ts';

const VMS = Number(process.env.BENCH_DENSITY_VMS ?? 20);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const MiB = 1024 * 1024;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', res));
  const port = (s.address() as { port: number }).port;
  await new Promise((res) => s.close(res));
  return port;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => { req.destroy(); resolve(false); });
    req.end();
  });
}

/** Resolves when every port answers HTTP 200 (polled), or rejects after `limitMs`. */
async function allAnswer(ports: number[], limitMs: number): Promise<void> {
  const pending = new Set(ports);
  const deadline = Date.now() + limitMs;
  while (pending.size) {
    if (Date.now() > deadline) throw new Error(`${pending.size} of ${ports.length} VMs did not answer within ${limitMs} ms`);
    await Promise.all([...pending].map(async (p) => { if (await answers(p)) pending.delete(p); }));
    if (pending.size) await new Promise((res) => setTimeout(res, 100));
  }
}

/** Pss in bytes of a process (0 when it is gone). */
function pss(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The QEMU child of a hyperbuild process. */
function qemuOf(pid: number): number | undefined {
  const r = spawnSync('pgrep', ['-P', String(pid), 'qemu-system'], { encoding: 'utf8' });
  const found = r.stdout.trim().split('\n').filter(Boolean).map(Number);
  return found[0];
}

interface Fleet { seconds: number; qemuPss: number; nodePss: number; started: number }

async function fleet(root: string, bundle: string, cache: string, warm: boolean): Promise<Fleet> {
  const ports = await Promise.all(Array.from({ length: VMS }, freePort));
  const t0 = Date.now();
  const children: ChildProcess[] = ports.map((port) => spawn(`${root}/bin/hyperbuild`, [
    'boot', '--cache-dir', cache, ...(warm ? [] : ['--no-template']), '--timeout', '600s', '-p', `${port}:80`, bundle, '--', 'httpd', '-f', '-p', '80', '-h', '/www',
  ], { stdio: 'ignore' }));
  const exited = children.map((c) => new Promise((res) => c.once('exit', res)));
  try {
    await allAnswer(ports, 600_000);
    const seconds = (Date.now() - t0) / 1000;
    const qemus = children.map((c) => qemuOf(c.pid!)).filter((p): p is number => p !== undefined);
    const qemuPss = qemus.reduce((n, p) => n + pss(p), 0);
    const nodePss = children.reduce((n, c) => n + pss(c.pid!), 0);
    return { seconds, qemuPss, nodePss, started: qemus.length };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(exited);
  }
}

/** N `run -d` at once (warm: the template is in `cache`), in a state root of their own; every VM removed at the end. */
async function detachedFleet(root: string, bundle: string, cache: string, out: string): Promise<Fleet> {
  const state = mkdtempSync(join(out, 'state-density-'));
  const env = { ...process.env, HYPERBUILD_STATE_DIR: state };
  const ports = await Promise.all(Array.from({ length: VMS }, freePort));
  const t0 = Date.now();
  const runs = ports.map((port) => new Promise<string>((resolve, reject) => {
    const c = spawn(`${root}/bin/hyperbuild`, ['run', '-d', '--cache-dir', cache, '-p', `${port}:80`, bundle, '--', 'httpd', '-f', '-p', '80', '-h', '/www'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    c.once('exit', (code) => (code === 0 ? resolve(stdout.trim()) : reject(new Error(`run -d failed (${code}): ${stderr.slice(-500)}`))));
  }));
  try {
    const ids = await Promise.all(runs);
    await allAnswer(ports, 600_000);
    const seconds = (Date.now() - t0) / 1000;
    const status = ids.map((id) => JSON.parse(readFileSync(join(state, id.slice(0, 12), 'status.json'), 'utf8')));
    const qemuPss = status.reduce((n, st) => n + pss(st.qemu.pid), 0);
    const supervisorPss = status.reduce((n, st) => n + pss(st.supervisor.pid), 0);
    return { seconds, qemuPss, nodePss: supervisorPss, started: status.filter((st) => pss(st.qemu.pid) > 0).length };
  } finally {
    await Promise.allSettled(runs);
    const hb = (...args: string[]) => spawnSync(`${root}/bin/hyperbuild`, args, { env, encoding: 'utf8' });
    const left = hb('ps', '-aq').stdout.split('\n').filter(Boolean);
    if (left.length) hb('rm', '-f', ...left);
    rmSync(state, { recursive: true, force: true });
  }
}

/** The first boot into an empty cache makes the template: [making ms, disk bytes, RAM file bytes, state bytes]. */
function makeTemplate(root: string, bundle: string, cache: string): number[] {
  rmSync(cache, { recursive: true, force: true });
  const r = spawnSync(`${root}/bin/hyperbuild`, ['boot', '--verbose', '--cache-dir', cache, bundle], { encoding: 'utf8' });
  const m = /VM template made in (\d+) ms/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`the first boot made no template (${r.status}): ${r.stderr.slice(-500)}`);
  const root_ = join(cache, 'templates');
  const dir = join(root_, readdirSync(root_).filter((n) => !n.startsWith('.'))[0]);
  const disk = readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).blocks * 512, 0);
  return [Number(m[1]), disk, statSync(join(dir, 'ram')).size, statSync(join(dir, 'state')).size];
}

export async function densityBench(root: string, bundle: string, out: string): Promise<string[]> {
  const cache = join(out, 'cache-density');
  const made = Array.from({ length: RUNS }, () => makeTemplate(root, bundle, cache));
  const at = (i: number) => median(made.map((m) => m[i]));
  const lines = [
    '## VM template (hello bundle, default -m, TCG)',
    `  making it (boot to H, save; done once by the first boot or by build --template): median ${(at(0) / 1000).toFixed(2)} s`,
    `  on disk: ${(at(1) / MiB).toFixed(1)} MiB (RAM file ${(at(2) / MiB).toFixed(0)} MiB logical, sparse: only the pages the boot touched; device state ${(at(3) / 1024).toFixed(0)} KiB)`,
    '',
    `## density: ${VMS} concurrent idle VMs, busybox httpd, each answering through its own -p (target ≤ 28 MiB PSS per VM)`,
    row(['what', 'all answer s', 'QEMU MiB/VM', 'Node (or supervisor) MiB/VM', 'total MiB/VM']),
  ];
  for (const warm of [true, false]) {
    const f = await fleet(root, bundle, cache, warm);
    if (f.started !== VMS) throw new Error(`found ${f.started} of ${VMS} QEMU processes`);
    const q = f.qemuPss / VMS / MiB;
    const n = f.nodePss / VMS / MiB;
    lines.push(row([warm ? 'warm (VM template)' : 'cold (--no-template)', f.seconds, q, n, q + n]));
  }
  const d = await detachedFleet(root, bundle, cache, out);
  if (d.started !== VMS) throw new Error(`found ${d.started} of ${VMS} detached QEMU processes`);
  lines.push(row(['detached warm (run -d: QEMU + C supervisor)', d.seconds, d.qemuPss / VMS / MiB, d.nodePss / VMS / MiB, (d.qemuPss + d.nodePss) / VMS / MiB]));
  rmSync(cache, { recursive: true, force: true });
  return lines;
}
