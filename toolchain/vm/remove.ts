/**
 * `rm`: a VM's state goes, and with -f its processes first. The directory is
 * renamed out of the way in one step (`.removing-ID`), so a concurrent
 * command finds the VM whole or not at all; the name and a pulled bundle go
 * with it. QEMU and the supervisor are SIGKILLed only while they are still
 * the processes recorded (pid + start time), and waited for.
 */
import { renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import { vmNames } from './names.ts';
import { nameLink } from './state-dir.ts';
import { killIfAlive, waitGone } from './proc.ts';
import type { VmView } from './ps.ts';

export const KILL_WAIT_MS = 10_000;

export async function removeVm(root: string, v: VmView, force: boolean): Promise<void> {
  const label = v.ref.name ?? v.ref.shortId;
  if (v.state !== 'exited' && !force) {
    throw new BadInputError(`${label} is ${v.state}; refusing to remove it`, { hint: `stop it first (hyperbuild stop ${label}), or force it: hyperbuild rm -f ${label}` });
  }
  const { qemu, supervisor } = v.status;
  if (v.state !== 'exited' || force) {
    killIfAlive(qemu);
    killIfAlive(supervisor);
    if (!(await waitGone([qemu, supervisor], KILL_WAIT_MS))) {
      throw new HyperbuildError(`${label}: its processes did not end within ${KILL_WAIT_MS / 1000} s of SIGKILL`, { hint: 'retry; ps -a shows it' });
    }
  }
  const away = join(root, `.removing-${v.ref.shortId}`);
  try {
    renameSync(v.ref.dir, away);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed by another rm (or --rm) meanwhile
    throw err;
  }
  rmSync(away, { recursive: true, force: true });
  for (const [name, owner] of vmNames(root)) if (owner === v.ref.shortId) rmSync(nameLink(root, name), { force: true });
  if (v.config?.temporaryBundle) rmSync(dirname(v.config.temporaryBundle), { recursive: true, force: true });
}
