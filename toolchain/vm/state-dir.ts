/**
 * Where detached VMs keep their state, and its layout. The root is
 * `$HYPERBUILD_STATE_DIR`, else `$XDG_RUNTIME_DIR/hyperbuild`, else
 * `/run/hyperbuild` as root, else `/tmp/hyperbuild-UID` (as Podman does), a
 * private (0700) directory we own. One directory per VM, named by its short
 * ID, plus `names/NAME` symlinks (created with symlink(2), which is atomic, so
 * two `run --name web` cannot both win). Who writes which file is in VM_FILES.
 */
import { lstatSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BadInputError } from '../errors/errors.ts';

/** A VM directory's files; each has one writer. */
export const VM_FILES = {
  /** hyperbuild (run), atomically, once: what was asked (records.ts VmConfig). */
  config: 'config.json',
  /** hyperbuild (run), atomically, once: the runtime spec the supervisor sends as `S`. */
  spec: 'spec',
  /** The supervisor (or a foreground run), atomically at each change (records.ts VmStatus). */
  status: 'status.json',
  /** The supervisor: the app's output, k8s-file records, rotated to `.1` (logs.ts). */
  log: 'container.log',
  logOld: 'container.log.1',
  /** The supervisor: the guest console, raw, rotated the same way. */
  console: 'console.log',
  consoleOld: 'console.log.1',
  /** The supervisor's and QEMU's own stderr. */
  supervisorLog: 'supervisor.log',
  /** The supervisor listens here for stop, kill, wait, exec (monitor-client.ts). */
  monitor: 'monitor.sock',
  /** O_EXCL lock of the commands that change the VM (lock.ts). */
  lock: 'lock',
} as const;

/** sun_path is 108 bytes; monitor.sock's full path must fit. */
const SUN_PATH_MAX = 107;
/** Short IDs name the directories: `ROOT/0123456789ab/monitor.sock`. */
export const SHORT_ID_LENGTH = 12;

function uid(): number {
  return process.getuid?.() ?? 0;
}

/** The state root for this user (not created). */
export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HYPERBUILD_STATE_DIR) return resolve(env.HYPERBUILD_STATE_DIR);
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg) {
    let ok = false;
    try { ok = statSync(xdg).isDirectory(); } catch { /* refused below */ }
    if (!ok) {
      throw new BadInputError(`XDG_RUNTIME_DIR=${xdg} is not a directory`, {
        hint: 'log in again (systemd creates it), unset XDG_RUNTIME_DIR, or set HYPERBUILD_STATE_DIR',
      });
    }
    return join(xdg, 'hyperbuild');
  }
  return uid() === 0 ? '/run/hyperbuild' : `/tmp/hyperbuild-${uid()}`;
}

/** The root, created 0700 when missing; refused when it is not a private directory of ours. */
export function ensureStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const root = stateRoot(env);
  mkdirSync(join(root, 'names'), { recursive: true, mode: 0o700 });
  const st = lstatSync(root);
  if (!st.isDirectory() || st.uid !== uid()) {
    throw new BadInputError(`state directory ${root} is not a directory owned by uid ${uid()}`, {
      hint: 'remove it, or set HYPERBUILD_STATE_DIR to a directory of yours',
    });
  }
  if (join(root, 'x'.repeat(SHORT_ID_LENGTH), VM_FILES.monitor).length > SUN_PATH_MAX) {
    throw new BadInputError(`state directory ${root} is too long for unix socket paths`, {
      hint: 'set HYPERBUILD_STATE_DIR to a shorter path',
    });
  }
  return root;
}

export function vmDir(root: string, shortId: string): string {
  return join(root, shortId);
}

export function nameLink(root: string, name: string): string {
  return join(root, 'names', name);
}
