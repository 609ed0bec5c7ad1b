/**
 * `exec`: a second process in a running detached VM, through its supervisor
 * (monitor.sock `exec`, then frames; supervisor/clients.c). The client sends
 * `N` (the process's spec records), then `i`/`e` (stdin), `k` (signals),
 * `w` (terminal size); it gets `r` (started), `o` (stream byte + output), `x`
 * (exit code) or `F` (why it cannot run). The supervisor tags them with an
 * exec id towards HyperStart (PROTOCOL.md "Exec"). Docker's defaults: the
 * app's environment, user and working directory, each overridable.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { BadInputError, ExitCode, HyperbuildError } from '../errors/errors.ts';
import { decodeSpecRecords, encodeFrame, encodeSpec, FrameDecoder, encodeSignalPayload, encodeWindowSizePayload, EXEC_STREAM, type Frame } from '../hyperstart/protocol.ts';
import { forwardStdin } from '../boot/stdin-pump.ts';
import { terminalSize } from '../boot/terminal.ts';
import { connectMonitor } from './monitor-client.ts';
import { vmLabel, type VmView } from './ps.ts';
import { VM_FILES } from './state-dir.ts';

export interface ExecRequest {
  args: string[];
  /** NAME=VALUE entries on top of the app's environment. */
  env: string[];
  user?: string;
  workdir?: string;
  tty: boolean;
  interactive: boolean;
}

export interface ExecStreams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The app's env, user and workdir from the runtime spec the VM was started with. */
function appDefaults(dir: string): { env: string[]; user?: string; workdir?: string } {
  const records = decodeSpecRecords(readFileSync(join(dir, VM_FILES.spec)));
  const one = (k: string) => records.find((r) => r.key === k)?.value.toString('utf8');
  return { env: records.filter((r) => r.key === 'env').map((r) => r.value.toString('utf8')), user: one('user'), workdir: one('workdir') };
}

/** The exec's environment: the app's, with `extra` replacing entries of the same name. */
export function execEnv(app: string[], extra: string[]): string[] {
  const name = (e: string) => e.slice(0, e.indexOf('=') + 1 || e.length);
  const out = app.filter((e) => !extra.some((x) => name(x) === name(e)));
  return [...out, ...extra];
}

export function assertExecutable(v: VmView): void {
  const label = vmLabel(v);
  if (v.config?.mode === 'foreground') {
    throw new BadInputError(`${label} runs in the foreground: exec needs a VM started with run -d`, { hint: 'start it with hyperbuild run -d' });
  }
  if (v.state !== 'running') {
    const how = v.state === 'exited' ? `it exited${v.status.exitCode === undefined ? '' : ` with ${v.status.exitCode}`}` : 'it is still starting';
    throw new BadInputError(`${label} is not running: ${how}`, { hint: v.state === 'exited' ? 'start a new one with hyperbuild run -d' : 'retry once ps shows it Up' });
  }
}

/** Run the command in the VM; resolves with its exit code. */
export async function execInVm(v: VmView, r: ExecRequest, io: ExecStreams): Promise<number> {
  assertExecutable(v);
  if (!r.args.length) throw new BadInputError('exec needs a command', { hint: 'hyperbuild exec NAME -- COMMAND [ARGS...]' });
  const app = appDefaults(v.ref.dir);
  const spec = encodeSpec({ args: r.args, env: execEnv(app.env, r.env), user: r.user ?? app.user, workdir: r.workdir ?? app.workdir, tty: r.tty });
  const sock = await connectMonitor(v.ref.dir);
  if (!sock) throw new BadInputError(`${vmLabel(v)} is not running (its supervisor is gone)`, { hint: 'hyperbuild ps -a shows how it ended' });
  sock.write('exec\n');
  sock.write(encodeFrame('N', spec));
  return converse(sock, r, io, vmLabel(v));
}

function converse(sock: Socket, r: ExecRequest, io: ExecStreams, label: string): Promise<number> {
  const cleanups: (() => void)[] = [];
  const decoder = new FrameDecoder();
  const onSignal = (sig: NodeJS.Signals) => sock.write(encodeFrame('k', encodeSignalPayload(sig === 'SIGINT' ? 2 : 15)));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const h = () => onSignal(sig);
    process.on(sig, h);
    cleanups.push(() => process.off(sig, h));
  }
  const sendSize = () => { const s = terminalSize(io.stdout as NodeJS.WriteStream); if (s) sock.write(encodeFrame('w', encodeWindowSizePayload(s.rows, s.cols))); };
  return new Promise<number>((resolve, reject) => {
    const done = (f: () => void) => { cleanups.splice(0).forEach((c) => c()); sock.destroy(); f(); };
    const onFrame = (f: Frame) => {
      if (f.type === 'r') {
        if (r.tty) {
          sendSize();
          process.on('SIGWINCH', sendSize);
          cleanups.push(() => process.off('SIGWINCH', sendSize));
        }
        if (r.interactive) cleanups.push(forwardStdin(io.stdin, sock, r.tty, { input: 'i', eof: 'e' }));
        else sock.write(encodeFrame('e'));
      } else if (f.type === 'o' && f.payload.length >= 1) {
        (f.payload[0] === EXEC_STREAM.stderr ? io.stderr : io.stdout).write(f.payload.subarray(1));
      } else if (f.type === 'x' && f.payload.length === 4) {
        done(() => resolve(f.payload.readUInt32BE(0)));
      } else if (f.type === 'F') {
        done(() => reject(new BadInputError(`${label}: ${f.payload.toString('utf8')}`, { hint: 'hyperbuild ps shows whether it runs' })));
      }
    };
    sock.on('data', (chunk: Buffer) => {
      try { decoder.push(chunk).forEach(onFrame); } catch (err) { done(() => reject(err)); }
    });
    sock.on('error', () => {});
    sock.on('close', () => done(() => reject(new HyperbuildError(`${label} stopped while the command ran`, { exitCode: ExitCode.vmFailure }))));
  });
}
