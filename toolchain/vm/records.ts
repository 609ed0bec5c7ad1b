/**
 * The two records of a VM directory (state-dir.ts VM_FILES): config.json,
 * what was asked (written once by `run`), and status.json, what happened
 * (written by the supervisor, supervisor/status.c, or by a foreground run).
 * Both are parsed strictly enough that a damaged file is reported as damaged,
 * never half-believed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic.ts';
import type { ProcId } from './proc.ts';
import { VM_FILES } from './state-dir.ts';

export const VM_CONFIG_VERSION = 1;

export interface VmConfig {
  schemaVersion: typeof VM_CONFIG_VERSION;
  /** 64 lowercase hex; the directory is named by its first SHORT_ID_LENGTH. */
  id: string;
  name: string;
  /** The bundle directory (absolute) and what the user named (a path or a reference). */
  bundle: string;
  target: string;
  /** A pulled bundle in the cache that belongs to this VM (removed with it). */
  temporaryBundle?: string;
  created: string;
  /** The app's argv, for `ps`. */
  command: string[];
  /** `IP:HOST->GUEST/PROTO`. */
  ports: string[];
  /** `supervisor` (run -d) or `foreground` (the hyperbuild that runs it). */
  mode: 'supervisor' | 'foreground';
  autoRemove: boolean;
  tty: boolean;
  hypervisor: string;
}

export type VmState = 'starting' | 'running' | 'exited';

export interface VmStatus {
  state: VmState;
  /** Who supervises it: the C supervisor, or the foreground hyperbuild. */
  supervisor?: ProcId;
  qemu?: ProcId;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  outcome?: string;
  message?: string;
}

export class DamagedRecordError extends Error {}

function readJson(dir: string, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(join(dir, file), 'utf8');
  } catch (err) {
    throw new DamagedRecordError(`${file} is missing (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch { /* below */ }
  throw new DamagedRecordError(`${file} is not a JSON object`);
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isStrs = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);

export function readConfig(dir: string): VmConfig {
  const c = readJson(dir, VM_FILES.config);
  const ok = c.schemaVersion === VM_CONFIG_VERSION && isStr(c.id) && /^[0-9a-f]{64}$/.test(c.id) && isStr(c.name)
    && isStr(c.bundle) && isStr(c.target) && isStr(c.created) && isStrs(c.command) && isStrs(c.ports)
    && (c.mode === 'supervisor' || c.mode === 'foreground') && typeof c.autoRemove === 'boolean'
    && typeof c.tty === 'boolean' && isStr(c.hypervisor) && (c.temporaryBundle === undefined || isStr(c.temporaryBundle));
  if (!ok) throw new DamagedRecordError(`${VM_FILES.config} has missing or mistyped fields`);
  return c as unknown as VmConfig;
}

function procId(v: unknown): ProcId | undefined {
  const p = v as ProcId | undefined;
  return p && Number.isSafeInteger(p.pid) && p.pid > 0 && Number.isSafeInteger(p.start) ? { pid: p.pid, start: p.start } : undefined;
}

export function readStatus(dir: string): VmStatus {
  const s = readJson(dir, VM_FILES.status);
  if (s.state !== 'starting' && s.state !== 'running' && s.state !== 'exited') {
    throw new DamagedRecordError(`${VM_FILES.status} has no valid state`);
  }
  const opt = (k: string) => (isStr(s[k]) ? (s[k] as string) : undefined);
  return {
    state: s.state,
    supervisor: procId(s.supervisor),
    qemu: procId(s.qemu),
    startedAt: opt('startedAt'),
    finishedAt: opt('finishedAt'),
    exitCode: Number.isSafeInteger(s.exitCode) ? (s.exitCode as number) : undefined,
    outcome: opt('outcome'),
    message: opt('message'),
  };
}

export async function writeConfig(dir: string, c: VmConfig): Promise<void> {
  await writeFileAtomic(join(dir, VM_FILES.config), `${JSON.stringify(c, null, 2)}\n`);
}

/** For a foreground run, whose hyperbuild is its supervisor. */
export async function writeStatus(dir: string, s: VmStatus): Promise<void> {
  await writeFileAtomic(join(dir, VM_FILES.status), `${JSON.stringify(s)}\n`);
}
