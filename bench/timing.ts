import { spawnSync } from 'node:child_process';

/** Wall time of a shell command in seconds; throws with its stderr if it fails. */
export function timeShell(cmd: string, env: NodeJS.ProcessEnv = {}): number {
  const start = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', cmd], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`benchmark command failed (${r.status}): ${cmd}\n${r.stderr.slice(-2000)}`);
  return seconds;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function row(cells: (string | number)[]): string {
  return cells.map((c, i) => (typeof c === 'number' ? c.toFixed(3) : c).toString().padEnd(i === 0 ? 44 : 12)).join(' ');
}

/** Wall time in seconds of one program run directly (no shell), output discarded; throws if it fails. */
export function timeCommand(program: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(program, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (r.status !== 0) throw new Error(`benchmark command failed (${r.status}): ${program} ${args.join(' ')}\n${r.stderr.slice(-2000)}`);
  return seconds;
}
