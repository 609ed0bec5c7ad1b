/**
 * The tests' own libvirtd, so no test depends on (or disturbs) a system
 * service: a session-mode daemon (qemu:///session semantics) whose every path
 * — sockets, config, domain state, logs, capability cache — lives under one
 * private directory, because its HOME and XDG_* variables point there.
 * Session mode, not a second privileged instance: a privileged libvirtd has
 * fixed state directories (/run/libvirt/qemu, /var/lib/libvirt/qemu) that two
 * instances on one machine would share and fight over.
 *
 * As root, the daemon runs as the VM user (hyperbuild-vm, toolchain/boot/jail.ts),
 * so the QEMU it starts is unprivileged like the QEMU backend's; otherwise as
 * the test's own user. Its qemu.conf sets `stdio_handler = "file"`, so it
 * needs no virtlogd. Clients reach it with
 * `qemu+unix:///session?socket=DIR/run/libvirt/libvirt-sock`.
 * stop() destroys any domain left, then the daemon; an exit hook kills it too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureJailUser } from '../../toolchain/boot/jail.ts';
import { tempDir } from './places.ts';

export interface PrivateLibvirtd {
  uri: string;
  dir: string;
  /** The daemon's log (its own errors, for assertion messages). */
  log(): string;
  /** Names of the domains it runs now. */
  domains(): string[];
  stop(): Promise<void>;
}

export const LIBVIRTD = '/usr/sbin/libvirtd';

export function haveLibvirt(): boolean {
  return spawnSync(LIBVIRTD, ['--version']).status === 0 && spawnSync('virsh', ['--version']).status === 0;
}

function virsh(uri: string, args: string[]): { ok: boolean; stdout: string } {
  const r = spawnSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { ok: r.status === 0, stdout: r.stdout ?? '' };
}

/** Start a private daemon and wait until it answers; undefined when libvirtd is not installed. */
export async function startLibvirtd(): Promise<PrivateLibvirtd | undefined> {
  if (!haveLibvirt()) return undefined;
  const dir = tempDir('libvirtd');
  const root = process.geteuid?.() === 0;
  const id = root ? ensureJailUser() : undefined;
  for (const d of ['config/libvirt', 'run', 'cache', 'data']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'config/libvirt/qemu.conf'), 'stdio_handler = "file"\n');
  writeFileSync(join(dir, 'config/libvirt/libvirtd.conf'), 'log_outputs = "3:stderr"\n');
  if (id) spawnSync('chown', ['-R', `${id.uid}:${id.gid}`, dir]);
  const logFile = join(dir, 'libvirtd.log');
  const log = openSync(logFile, 'a');
  if (id) chownSync(logFile, id.uid, id.gid);
  const env = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: dir,
    XDG_RUNTIME_DIR: join(dir, 'run'), XDG_CONFIG_HOME: join(dir, 'config'), XDG_CACHE_HOME: join(dir, 'cache'), XDG_DATA_HOME: join(dir, 'data'),
  };
  const daemon: ChildProcess = spawn(LIBVIRTD, [], { env, stdio: ['ignore', log, log], uid: id?.uid, gid: id?.gid, cwd: dir });
  const kill = () => { try { daemon.kill('SIGKILL'); } catch { /* gone */ } };
  process.on('exit', kill);
  const uri = `qemu+unix:///session?socket=${join(dir, 'run/libvirt/libvirt-sock')}`;
  let exited = false;
  daemon.on('exit', () => { exited = true; });
  // The first answer includes probing QEMU's capabilities (seconds under load); bounded, not timed.
  for (let i = 0; i < 120 && !exited; i++) {
    if (virsh(uri, ['uri']).ok) break;
    await new Promise((res) => setTimeout(res, 500));
  }
  const readLog = () => { try { return readFileSync(logFile, 'utf8'); } catch { return ''; } };
  if (exited || !virsh(uri, ['uri']).ok) {
    kill();
    throw new Error(`private libvirtd did not come up:\n${readLog().slice(-2000)}`);
  }
  const domains = () => virsh(uri, ['list', '--all', '--name']).stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  return {
    uri, dir, log: readLog, domains,
    stop: async () => {
      for (const d of domains()) virsh(uri, ['destroy', d]);
      const gone = new Promise<void>((res) => (exited ? res() : daemon.once('exit', () => res())));
      daemon.kill('SIGTERM');
      const t = setTimeout(kill, 10_000);
      await gone;
      clearTimeout(t);
      process.off('exit', kill);
    },
  };
}
