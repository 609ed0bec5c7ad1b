/**
 * The per-VM lock of the commands that change a VM (stop, kill, rm): an
 * O_EXCL `lock` file holding the owner's pid, start time and command. A lock
 * whose owner is gone (pid dead or reused: start time differs) is stale and
 * taken over. Held only while the command runs; a second command meets a
 * one-line error naming the holder instead of waiting or interleaving.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import { isAlive, selfProcId } from './proc.ts';
import { VM_FILES } from './state-dir.ts';

interface Holder {
  pid: number;
  start: number;
  what: string;
}

function readHolder(path: string): Holder | undefined {
  try {
    const [pid, start, ...what] = readFileSync(path, 'utf8').trim().split(' ');
    return { pid: Number(pid), start: Number(start), what: what.join(' ') };
  } catch {
    return undefined;
  }
}

function tryCreate(path: string, label: string, what: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code === 'ENOENT') throw new BadInputError(`${label} no longer exists`, { hint: 'hyperbuild ps -a lists the VMs' });
    throw err;
  }
  const me = selfProcId();
  writeSync(fd, `${me.pid} ${me.start} ${what}\n`);
  closeSync(fd);
  return true;
}

/** Take the lock of VM directory `dir` for `what` (e.g. `stop`); throws when another live command holds it. */
export function lockVm(dir: string, label: string, what: string): () => void {
  const path = join(dir, VM_FILES.lock);
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, label, what)) return () => { try { unlinkSync(path); } catch { /* removed with the VM */ } };
    const holder = readHolder(path);
    if (holder && isAlive(holder)) {
      throw new HyperbuildError(`${label} is busy: \`hyperbuild ${holder.what}\` (pid ${holder.pid}) is working on it`, {
        hint: 'wait for that command to finish, then retry',
      });
    }
    // Stale (its owner died without unlocking): take it over.
    try { unlinkSync(path); } catch { /* someone else took it over first */ }
  }
  throw new HyperbuildError(`cannot lock ${label}: its lock keeps changing hands`, { hint: 'retry' });
}

/** Run `fn` holding the VM's lock. */
export async function withVmLock<T>(dir: string, label: string, what: string, fn: () => Promise<T>): Promise<T> {
  const unlock = lockVm(dir, label, what);
  try {
    return await fn();
  } finally {
    unlock();
  }
}
