/**
 * Starting a VM's supervisor (supervisor/, `make supervisor`): the static C
 * process that owns a detached VM once hyperbuild has exited. It is spawned
 * in its own session with its stderr in supervisor.log and a pipe on fd 3 on
 * which it says `running` once the app started, or how the VM ended first;
 * hyperbuild waits for that line, then lets go of it.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ExitCode, HyperbuildError } from '../errors/errors.ts';
import type { SupervisedLaunch } from '../boot/hypervisor.ts';
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
}

/** What the supervisor reported first: the app runs, or the VM already ended. */
export type StartReport =
  | { state: 'running' }
  | { state: 'exited'; exitCode: number; outcome: string; message: string };

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
  return [...args, '--', l.command, ...l.args];
}

export function parseStartReport(line: string): StartReport | undefined {
  if (line === 'running') return { state: 'running' };
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
export async function startSupervisor(o: SupervisorOptions, env: NodeJS.ProcessEnv = process.env): Promise<StartReport | undefined> {
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
