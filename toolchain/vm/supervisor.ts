/**
 * Starting a VM's supervisor (supervisor/, `make supervisor`): the static C
 * process that owns a detached VM once hyperbuild has exited. It is spawned
 * in its own session with its stderr in supervisor.log and a pipe on fd 3 on
 * which it says `running` once the app started, or how the VM ended first
 * (or, for a VM template's clone, `restore-failed WHY`: nothing ran, and the
 * caller starts it cold); hyperbuild waits for that line, then lets go of it.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ExitCode, HyperbuildError } from '../errors/errors.ts';
import type { SupervisedLaunch } from '../boot/hypervisor.ts';
import type { SupervisedRestore } from '../boot/template/supervised-restore.ts';
import { packageRoot } from '../hyperstart/binary.ts';
import { VM_FILES } from './state-dir.ts';

/** Where `make supervisor` puts it; HYPERBUILD_SUPERVISOR overrides. */
export function supervisorBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.HYPERBUILD_SUPERVISOR || join(packageRoot(), 'supervisor', 'out', 'hyperbuild-supervisor');
}

export interface SupervisorOptions {
  dir: string;
  version: string;
  logMaxBytes: number;
  timeoutMs?: number;
  tty: boolean;
  autoRemove: boolean;
  nameLink: string;
  launch: SupervisedLaunch;
  /** A VM template's clone: what the supervisor restores over QMP before the link starts. */
  restore?: Omit<SupervisedRestore, 'launch'>;
}

/** What the supervisor reported first: the app runs, or the VM already ended. */
export type StartReport =
  | { state: 'running' }
  | { state: 'exited'; exitCode: number; outcome: string; message: string };

/** With `restore`, also: the clone could not be restored; QEMU is gone and nothing was recorded. */
export type SupervisorReport = StartReport | { state: 'restore-failed'; message: string };

/** The supervisor's argv (pure, tested without starting anything). */
export function supervisorArgs(o: SupervisorOptions): string[] {
  const args = ['--dir', o.dir, '--version', o.version, '--log-max', String(o.logMaxBytes), '--name-link', o.nameLink, '--ready-fd', '3'];
  if (o.timeoutMs !== undefined) args.push('--timeout-ms', String(Math.max(1, o.timeoutMs)));
  if (o.tty) args.push('--tty');
  if (o.autoRemove) args.push('--rm');
  const l = o.launch;
  if (l.uid !== undefined) args.push('--uid', String(l.uid), '--gid', String(l.gid ?? l.uid));
  for (const f of l.files) args.push('--file', `${f.childFd}=${f.hostPath}`);
  for (const p of l.handOver) args.push('--own', p);
  const x = o.restore;
  if (x) {
    args.push('--restore', x.state, '--qmp', x.monitor, '--incoming', x.incoming);
    for (const rule of x.hostfwd) args.push('--hostfwd', rule);
  }
  return [...args, '--', l.command, ...l.args];
}

export function parseStartReport(line: string): SupervisorReport | undefined {
  if (line === 'running') return { state: 'running' };
  if (line.startsWith('restore-failed ')) return { state: 'restore-failed', message: line.slice('restore-failed '.length) };
  const m = /^exited (-?\d+) (\S+) ?(.*)$/.exec(line);
  return m ? { state: 'exited', exitCode: Number(m[1]), outcome: m[2], message: m[3] } : undefined;
}

function firstLine(stream: Readable): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => {
      text += d;
      const nl = text.indexOf('\n');
      if (nl >= 0) resolve(text.slice(0, nl));
    });
    stream.on('end', () => resolve(text.includes('\n') ? text.slice(0, text.indexOf('\n')) : undefined));
    stream.on('error', () => resolve(undefined));
  });
}

/** Start the supervisor and wait for its first report; undefined when it died without one (see supervisor.log). */
export function startSupervisor(o: SupervisorOptions & { restore?: undefined }, env?: NodeJS.ProcessEnv): Promise<StartReport | undefined>;
export function startSupervisor(o: SupervisorOptions, env?: NodeJS.ProcessEnv): Promise<SupervisorReport | undefined>;
export async function startSupervisor(o: SupervisorOptions, env: NodeJS.ProcessEnv = process.env): Promise<SupervisorReport | undefined> {
  const bin = supervisorBinaryPath(env);
  if (!existsSync(bin)) {
    throw new HyperbuildError(`the VM supervisor is not built (no ${bin})`, { hint: 'run `make supervisor` (needs musl-tools)', exitCode: ExitCode.vmFailure });
  }
  const log = openSync(join(o.dir, VM_FILES.supervisorLog), 'a', 0o600);
  try {
    const child = spawn(bin, supervisorArgs(o), { cwd: o.dir, detached: true, stdio: ['ignore', log, log, 'pipe'], env });
    child.on('error', () => { /* reported as no start report */ });
    const ready = child.stdio[3] as Readable;
    const line = await firstLine(ready);
    ready.destroy();
    child.unref();
    return line === undefined ? undefined : parseStartReport(line);
  } finally {
    closeSync(log);
  }
}
