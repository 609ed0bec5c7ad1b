/**
 * Processes named by pid *and* start time (/proc/PID/stat field 22, clock
 * ticks since boot), so a pid the kernel has reused for another process is
 * never taken for a VM's QEMU or supervisor. A zombie counts as gone.
 */
import { readFileSync } from 'node:fs';

export interface ProcId {
  pid: number;
  start: number;
}

interface ProcStat {
  state: string;
  start: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm (field 2) may hold spaces and ')': the fields that follow start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field 22 is rest[19].
  const start = Number(rest[19]);
  return Number.isFinite(start) ? { state: rest[0], start } : undefined;
}

/** The start time of a live process, or undefined when there is none. */
export function processStartTime(pid: number): number | undefined {
  return readStat(pid)?.start;
}

/** This very process (pid 0 is never valid). */
export function selfProcId(): ProcId {
  return { pid: process.pid, start: processStartTime(process.pid) ?? 0 };
}

/** Is the recorded process still the one running under its pid (and not a zombie)? */
export function isAlive(p: ProcId | undefined): boolean {
  if (!p || p.pid <= 0) return false;
  const s = readStat(p.pid);
  return !!s && s.start === p.start && s.state !== 'Z' && s.state !== 'X';
}

/** SIGKILL the recorded process if it is still that process. */
export function killIfAlive(p: ProcId | undefined, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!isAlive(p)) return;
  try {
    process.kill(p!.pid, signal);
  } catch {
    // Gone in between.
  }
}

/** Resolves once none of the processes is alive, or after `ms` (false then). */
export async function waitGone(procs: (ProcId | undefined)[], ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (!procs.some(isAlive)) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}
