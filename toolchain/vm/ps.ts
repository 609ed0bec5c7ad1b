/**
 * What `ps`, `wait`, `stop` and `rm` believe about a VM: its records
 * (records.ts) checked against the live processes (proc.ts). A status file
 * that says starting/running while the recorded QEMU is gone (pid dead, or
 * reused: start time differs) means the VM died without anyone recording it:
 * it is shown as exited, with that said, never as running and never dropped.
 */
import { DamagedRecordError, readConfig, readStatus, type VmConfig, type VmStatus } from './records.ts';
import { isAlive } from './proc.ts';
import { resolveVm, vmShortIds, type VmRef } from './names.ts';
import { vmDir } from './state-dir.ts';

export interface VmView {
  ref: VmRef;
  /** Undefined when config.json is damaged (then `damaged` says why). */
  config?: VmConfig;
  status: VmStatus;
  /** The state after checking the processes. */
  state: VmStatus['state'];
  /** Why the records cannot be trusted, for `ps` and errors. */
  damaged?: string;
}

/** The verified state: an unrecorded death counts as exited. */
export function liveState(s: VmStatus): { state: VmStatus['state']; message?: string } {
  if (s.state === 'exited') return { state: 'exited' };
  if (s.qemu) {
    if (isAlive(s.qemu)) return { state: s.state };
    if (isAlive(s.supervisor)) return { state: s.state }; // it is recording the exit right now
    return { state: 'exited', message: `QEMU (pid ${s.qemu.pid}) is gone and no exit was recorded` };
  }
  // A foreground run records no QEMU: its hyperbuild is the supervisor (and QEMU dies with it).
  if (isAlive(s.supervisor)) return { state: s.state };
  if (s.state === 'running') return { state: 'exited', message: `its hyperbuild (pid ${s.supervisor?.pid}) is gone and no exit was recorded` };
  return { state: 'exited', message: 'its supervisor is gone and QEMU never started' };
}

export function viewVm(ref: VmRef): VmView {
  let config: VmConfig | undefined;
  let status: VmStatus;
  let damaged: string | undefined;
  try {
    config = readConfig(ref.dir);
  } catch (err) {
    if (!(err instanceof DamagedRecordError)) throw err;
    damaged = err.message;
  }
  try {
    status = readStatus(ref.dir);
  } catch (err) {
    if (!(err instanceof DamagedRecordError)) throw err;
    damaged ??= err.message;
    status = { state: 'exited', outcome: 'unknown' };
  }
  const live = liveState(status);
  if (live.state !== status.state) status = { ...status, state: 'exited', outcome: 'vm-died', message: live.message };
  return { ref: { ...ref, name: ref.name ?? config?.name }, config, status, state: live.state, damaged };
}

/** Every VM, newest first (as docker ps lists them). */
export function listVms(root: string): VmView[] {
  const views = vmShortIds(root).map((shortId) => viewVm({ shortId, dir: vmDir(root, shortId) }));
  return views.sort((a, b) => (b.config?.created ?? '').localeCompare(a.config?.created ?? ''));
}

/** `Up 3 minutes`, `Exited (0) 5 seconds ago`, as docker words them. */
export function describeStatus(v: VmView, now = Date.now()): string {
  const s = v.status;
  if (v.damaged) return `Damaged (${v.damaged})`;
  if (v.state === 'starting') return 'Starting';
  if (v.state === 'running') return `Up ${ago(s.startedAt, now)}`;
  const code = s.exitCode === undefined ? '?' : String(s.exitCode);
  return `Exited (${code}) ${s.finishedAt ? `${ago(s.finishedAt, now)} ago` : ''}`.trimEnd();
}

export function ago(iso: string | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t)) return 'a while';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return s <= 1 ? 'a second' : `${s} seconds`;
  const m = Math.round(s / 60);
  if (m < 60) return m === 1 ? 'a minute' : `${m} minutes`;
  const h = Math.round(m / 60);
  if (h < 48) return h === 1 ? 'an hour' : `${h} hours`;
  return `${Math.round(h / 24)} days`;
}

/** The VM a command names (name, ID or ID prefix), as it is now. */
export function findVm(root: string, ref: string): VmView {
  return viewVm(resolveVm(root, ref));
}

export function vmLabel(v: VmView): string {
  return v.ref.name ?? v.ref.shortId;
}
