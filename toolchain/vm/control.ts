/**
 * stop, kill and wait on a VM, whoever supervises it: a detached VM through
 * its supervisor's monitor.sock (monitor-client.ts), a foreground run
 * through its hyperbuild process (SIGTERM/SIGINT, which boot forwards to the
 * app as `K`). When the supervisor is already gone the exit comes from
 * status.json; a VM that died unrecorded says so (ps.ts liveState).
 */
import { constants } from 'node:os';
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import { askMonitor, exitLine } from './monitor-client.ts';
import { isAlive, killIfAlive, waitGone } from './proc.ts';
import { viewVm, vmLabel, type VmView } from './ps.ts';

export const FOREGROUND_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/** `-s` value: a name (KILL, SIGKILL) or a number. */
export function parseSignal(text: string): { name: string; number: number } {
  const upper = text.toUpperCase();
  const name = /^\d+$/.test(text) ? Object.keys(constants.signals).find((k) => constants.signals[k as NodeJS.Signals] === Number(text)) : upper.startsWith('SIG') ? upper : `SIG${upper}`;
  const number = name ? constants.signals[name as NodeJS.Signals] : undefined;
  if (!name || number === undefined) throw new BadInputError(`-s '${text}' is not a signal`, { hint: 'give a name (TERM, KILL, HUP, USR1...) or a number' });
  return { name, number };
}

async function untilExited(v: VmView, pollMs = 100): Promise<VmView> {
  for (;;) {
    const now = viewVm(v.ref);
    if (now.state === 'exited') return now;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The exit code once the VM has ended (undefined: it ended without one recorded). */
export async function waitVm(v: VmView): Promise<number | undefined> {
  if (v.state !== 'exited' && v.config?.mode === 'supervisor') {
    const code = exitLine((await askMonitor(v.ref.dir, 'wait', (l) => exitLine(l) !== undefined)) ?? []);
    if (code !== undefined) return code;
  }
  return (await untilExited(v)).status.exitCode;
}

/** SIGTERM to the app, the VM powered off after `ms`; resolves with the exit code. */
export async function stopVm(v: VmView, ms: number): Promise<number | undefined> {
  if (v.state === 'exited') return v.status.exitCode;
  if (v.config?.mode === 'foreground') {
    signalForeground(v, 'SIGTERM');
    // Its hyperbuild forwards SIGTERM to the app; past `ms` it is killed (its watchdog kills QEMU).
    if (!(await waitGone([v.status.supervisor], ms))) killIfAlive(v.status.supervisor);
    return (await untilExited(v)).status.exitCode;
  }
  const lines = await askMonitor(v.ref.dir, `stop ${ms}`, (l) => l[0]?.startsWith('error') || exitLine(l) !== undefined);
  if (lines?.[0] === 'error already-stopping') {
    throw new HyperbuildError(`${vmLabel(v)} is already being stopped`, { hint: `wait for it: hyperbuild wait ${vmLabel(v)}` });
  }
  return exitLine(lines ?? []) ?? (await untilExited(v)).status.exitCode;
}

/** Deliver a signal to the app. */
export async function killVm(v: VmView, signal: { name: string; number: number }): Promise<void> {
  if (v.state === 'exited') throw new BadInputError(`${vmLabel(v)} is not running`, { hint: 'hyperbuild ps -a shows how it ended' });
  if (v.config?.mode === 'foreground') {
    if (!(FOREGROUND_SIGNALS as readonly string[]).includes(signal.name)) {
      throw new BadInputError(`${vmLabel(v)} runs in the foreground, whose hyperbuild forwards only ${FOREGROUND_SIGNALS.join(' and ')}`, { hint: 'run it with -d to send any signal' });
    }
    signalForeground(v, signal.name as NodeJS.Signals);
    return;
  }
  const lines = await askMonitor(v.ref.dir, `kill ${signal.number}`, (l) => l.length > 0);
  if (lines?.[0] !== 'ok') throw new BadInputError(`${vmLabel(v)} is not running`, { hint: 'hyperbuild ps -a shows how it ended' });
}

function signalForeground(v: VmView, signal: NodeJS.Signals): void {
  const p = v.status.supervisor;
  if (!isAlive(p)) throw new BadInputError(`${vmLabel(v)} is not running`, { hint: 'hyperbuild ps -a shows how it ended' });
  process.kill(p!.pid, signal);
}
