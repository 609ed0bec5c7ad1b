/**
 * Running a monitor process (for process-based backends: QEMU today) so that it
 * never outlives hyperbuild.
 *
 * Linux has no portable "die with your parent" for a child we cannot modify
 * (PR_SET_PDEATHSIG is not reachable from Node), so:
 *  - the monitor runs in its own session (detached), so a terminal Ctrl-C reaches
 *    only hyperbuild, which forwards it to the app as a `K` frame instead of QEMU
 *    dying mid-write;
 *  - a tiny watchdog shell holds the read end of a pipe whose write end only
 *    hyperbuild has; when hyperbuild dies for any reason (even SIGKILL) the
 *    kernel closes it, `read` returns, and the watchdog SIGKILLs the monitor
 *    (after checking the pid still names a QEMU, against pid reuse);
 *  - on an orderly exit the 'exit' hook kills the monitor too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { HyperbuildError, ExitCode } from '../errors/errors.ts';
import type { RunningVm, VmExit } from './hypervisor.ts';

const DIAGNOSTICS_LIMIT = 64 * 1024;

const WATCHDOG_SCRIPT = 'read _ignored; case "$(cat /proc/$1/comm 2>/dev/null)" in "$2"*) kill -9 "$1" 2>/dev/null;; esac';

function startWatchdog(pid: number, commPrefix: string): ChildProcess {
  const dog = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'hyperbuild-watchdog', String(pid), commPrefix], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  dog.on('error', () => { /* without /bin/sh the exit hook still covers orderly exits */ });
  dog.stdin?.on('error', () => { /* EPIPE if the watchdog is gone already */ });
  // Neither the watchdog nor its pipe may keep hyperbuild's event loop alive.
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}

/** How the monitor is exec'd: as another user/group (the jail, jail.ts), with descriptors inherited as fd 3, 4, … */
export interface VmSpawnOptions { uid?: number; gid?: number; fds?: readonly number[] }

export async function startVmProcess(command: string, args: readonly string[], o: VmSpawnOptions = {}): Promise<RunningVm> {
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe', ...(o.fds ?? [])], uid: o.uid, gid: o.gid });
  let diagnostics = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    diagnostics = (diagnostics + s).slice(-DIAGNOSTICS_LIMIT);
  });

  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', (err) => resolve(err));
  });
  if (spawned || child.pid === undefined) {
    throw new HyperbuildError(`cannot start ${command}: ${spawned?.message ?? 'no pid'}`, { exitCode: ExitCode.vmFailure });
  }
  const pid = child.pid;
  const comm = command.split('/').pop()!.slice(0, 15);
  const watchdog = startWatchdog(pid, comm);

  let done = false;
  const kill = () => {
    if (done) return;
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  };
  const onExit = () => kill();
  process.on('exit', onExit);

  const exited = new Promise<VmExit>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      process.off('exit', onExit);
      try { if (watchdog.pid) process.kill(watchdog.pid, 'SIGKILL'); } catch { /* gone */ }
      // stderr may still hold QEMU's last words; let it drain briefly.
      const finish = () => resolve({ code, signal, diagnostics: diagnostics.trim() });
      if (child.stderr && !child.stderr.readableEnded) {
        const t = setTimeout(finish, 200);
        child.stderr.once('end', () => { clearTimeout(t); finish(); });
      } else finish();
    });
  });

  return { pid, exited, kill };
}
