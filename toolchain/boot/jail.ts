/**
 * The jailed VMM: how QEMU is confined whichever backend spawns it.
 *  1. seccomp: `-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny`
 *     (no set*uid, no fork/exec, no scheduler/affinity changes, no obsolete syscalls).
 *  2. An unprivileged user when hyperbuild runs as root: the system user
 *     `hyperbuild-vm` (own group, no home, no shell), created by `make deps` or
 *     on first use. QEMU is exec'd as that user directly, not with `-runas`:
 *     QEMU 7.2 drops to the `-runas` user after installing its seccomp filter,
 *     and `elevateprivileges=deny` then kills it (SIGSYS) at setuid.
 *  3. The VM's sockets and files in one 0700 directory (the channel directory)
 *     owned by that user. The bundle's files reach QEMU as file descriptors
 *     hyperbuild opened (`/proc/self/fd/N`; the rootfs disk through an
 *     `-add-fd` fd set), so the bundle's own directory need not be reachable.
 *  4. Volumes: a jailed QEMU could only reach what `hyperbuild-vm` may, so each
 *     `-v` is served by QEMU's `virtfs-proxy-helper`, started by hyperbuild as
 *     root, chrooted into the volume and keeping only the file capabilities:
 *     the guest sees host owners and modes as they are (root in the guest is
 *     root in the volume, as with `docker run -v`), and nothing outside it.
 * The layout is a pure function of the request and host facts (tested without
 * a VM); startJailed() applies it and starts QEMU.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, closeSync, copyFileSync, existsSync, linkSync, openSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExitCode, HyperbuildError } from '../errors/errors.ts';
import { launchFilePath, type LaunchRequest, type RunningVm, type SupervisedLaunch } from './hypervisor.ts';
import { startVmProcess } from './vm-process.ts';
import type { VolumeMount } from './volume.ts';

export const JAIL_USER = 'hyperbuild-vm';
export const QEMU_SANDBOX = 'on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny';
export const PROXY_HELPER = '/usr/lib/qemu/virtfs-proxy-helper';

export interface JailIdentity { user: string; uid: number; gid: number }

/** A host device or file as the jail needs to know it. */
export interface FileFacts { uid: number; gid: number; mode: number }

/** Host facts the layout depends on (looked up by lookupJailFacts, injected by tests). */
export interface JailFacts {
  /** The identity QEMU runs as; undefined when hyperbuild is not root (QEMU runs as hyperbuild). */
  identity?: JailIdentity;
  /** Whether others (so the VM user) may read a bundle file, i.e. reopen it through /proc/self/fd. */
  othersMayRead(path: string): boolean;
  /** /dev/kvm, when the accelerator is KVM. */
  kvm?: FileFacts;
  /** net.ipv4.ip_unprivileged_port_start: the lowest host port the VM user may bind for `-p`. */
  unprivilegedPortStart?: number;
}

/** A host file QEMU gets as an inherited descriptor, or as a copy inside the jail directory. */
export type JailFile =
  | { how: 'fd'; hostPath: string; childFd: number }
  | { how: 'copy'; hostPath: string; jailPath: string };

/** A volume served by a virtfs-proxy-helper on a socket in the jail directory. */
export interface ProxyVolume { volume: VolumeMount; socket: string }

/** Everything the jail decides, pure data: how QEMU is started and what it is told. */
export interface JailLayout {
  /** QEMU options the jail adds (-sandbox, -add-fd). */
  args: string[];
  identity?: JailIdentity;
  /** The group QEMU runs with (the identity's, or /dev/kvm's group under KVM). */
  gid?: number;
  /** The 0700 directory owned by the identity: the VM's sockets and files. */
  dir: string;
  /** Sockets QEMU connects to (handed to the identity). */
  sockets: string[];
  /** QEMU's path for each bundle file, by the bundle's file name. */
  paths: Record<string, string>;
  files: JailFile[];
  proxies: ProxyVolume[];
}

const R_OTHER = 0o004;
/** The rootfs disk goes through QEMU's fd set 1 (`-add-fd`): no path, no permission check. */
const ROOTFS_FDSET = 1;

/** The files QEMU reads, by bundle file name: the kernel from kernelPath (an unpacked copy when the bundle stores it compressed), the rest from the bundle. */
function bundleFiles(r: LaunchRequest): { name: string; hostPath: string; disk: boolean }[] {
  const m = r.manifest;
  const f = (name: string, disk: boolean) => ({ name, hostPath: launchFilePath(r, name), disk });
  return [f(m.kernel.name, false), f(m.initramfs.name, false), ...(m.rootfs ? [f(m.rootfs.name, true)] : [])];
}

function kvmGid(id: JailIdentity, kvm: FileFacts): number {
  const rw = 0o6;
  if (kvm.uid === id.uid && ((kvm.mode >> 6) & rw) === rw) return id.gid;
  if ((kvm.mode & rw) === rw) return id.gid;
  if (((kvm.mode >> 3) & rw) === rw) return kvm.gid;
  throw new HyperbuildError(`--accel kvm: /dev/kvm is not reachable by the VM user ${id.user} (mode ${(kvm.mode & 0o777).toString(8)})`, {
    hint: 'chgrp kvm /dev/kvm && chmod 0660 /dev/kvm (what Debian\'s udev rule does), or use --accel tcg',
    exitCode: ExitCode.vmFailure,
  });
}

/** Slirp binds `-p` host ports inside QEMU, so as the VM user: a privileged port is refused before boot. */
export function assertPortsBindable(r: LaunchRequest, id: JailIdentity, start: number): void {
  const low = r.publish.find((p) => p.hostPort < start);
  if (!low) return;
  throw new HyperbuildError(`-p ${low.hostPort}: the jailed QEMU runs as ${id.user}, which may not bind host ports below ${start} (net.ipv4.ip_unprivileged_port_start)`, {
    hint: `publish a port from ${start} up (e.g. -p 8080:${low.guestPort}), or allow it: sysctl -w net.ipv4.ip_unprivileged_port_start=${low.hostPort}`,
    exitCode: ExitCode.vmFailure,
  });
}

/** The jail for one launch, pure: same request and facts, same layout. */
export function jailLayout(r: LaunchRequest, facts: JailFacts): JailLayout {
  const dir = dirname(r.channels.control);
  const layout: JailLayout = {
    args: ['-sandbox', QEMU_SANDBOX], identity: facts.identity, gid: facts.identity?.gid, dir,
    sockets: [r.channels.control, r.channels.stdout, r.channels.stderr, r.channels.console],
    paths: {}, files: [], proxies: [],
  };
  for (const f of bundleFiles(r)) layout.paths[f.name] = f.hostPath;
  const id = facts.identity;
  if (!id) return layout;
  if (r.accel === 'kvm') layout.gid = kvmGid(id, facts.kvm ?? { uid: 0, gid: 0, mode: 0 });
  assertPortsBindable(r, id, facts.unprivilegedPortStart ?? 1024);
  // -kernel becomes /proc/self/fd/3: name the guest after the kernel's host path, so ps and pgrep still tell which bundle runs.
  layout.args.push('-name', join(r.bundleDir, r.manifest.kernel.name).replaceAll(',', ',,'));
  let childFd = 3;
  for (const f of bundleFiles(r)) {
    const hostPath = f.hostPath;
    if (f.disk) {
      layout.args.push('-add-fd', `fd=${childFd},set=${ROOTFS_FDSET},opaque=rootfs`);
      layout.files.push({ how: 'fd', hostPath, childFd: childFd++ });
      layout.paths[f.name] = `/dev/fdset/${ROOTFS_FDSET}`;
    } else if (facts.othersMayRead(hostPath)) {
      layout.files.push({ how: 'fd', hostPath, childFd });
      layout.paths[f.name] = `/proc/self/fd/${childFd++}`;
    } else {
      // Not readable by others: reopening the descriptor would be refused, so QEMU reads a copy it owns.
      const jailPath = join(dir, `bundle-${basename(f.name)}`);
      layout.files.push({ how: 'copy', hostPath, jailPath });
      layout.paths[f.name] = jailPath;
    }
  }
  layout.proxies = r.volumes.map((volume) => ({ volume, socket: join(dir, `9p-${volume.tag}.sock`) }));
  return layout;
}

/** QEMU's -fsdev value for a volume under this layout. */
export function fsdevOption(layout: JailLayout, v: VolumeMount, q: (s: string) => string): string {
  const proxy = layout.proxies.find((p) => p.volume.tag === v.tag);
  const source = proxy ? `proxy,id=fs${v.tag},socket=${q(proxy.socket)}` : `local,id=fs${v.tag},path=${q(v.hostPath)},security_model=none`;
  return `${source}${v.readOnly ? ',readonly=on' : ''}`;
}

/**
 * The passwd fields of `name`: from /etc/passwd when it is there (useradd's
 * system users are; reading it costs a fraction of the 2-5 ms a getent spawn
 * takes on every boot), else through NSS (`getent`), for users kept elsewhere.
 */
function lookUpUser(name: string): string[] | undefined {
  const valid = (f: string[]) => (f.length >= 4 && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3]) ? f : undefined);
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
    if (line) return valid(line.split(':'));
  } catch {
    // no readable /etc/passwd: NSS decides
  }
  const entry = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  return entry.status === 0 ? valid(entry.stdout.trim().split(':')) : undefined;
}

/** The identity of the VM user, created (system user, own group, no login) when missing. */
export function ensureJailUser(name: string = JAIL_USER): JailIdentity {
  let fields = lookUpUser(name);
  if (!fields) {
    spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], { encoding: 'utf8' });
    fields = lookUpUser(name); // a concurrent hyperbuild may have created it first: either way, look again
  }
  if (!fields) {
    throw new HyperbuildError(`cannot find or create the VM user ${name}`, {
      hint: `run \`make deps\` or: useradd --system --user-group --no-create-home --shell /usr/sbin/nologin ${name}`,
      exitCode: ExitCode.vmFailure,
    });
  }
  return { user: name, uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** The lowest port an unprivileged user may bind here (Linux's sysctl; the traditional 1024 elsewhere). */
export function unprivilegedPortStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  } catch {
    return 1024;
  }
}

/** The host facts for this process: root → the VM user (created if needed). */
export function lookupJailFacts(accel: string): JailFacts {
  // A file that cannot be stat'ed is reported when startJailed() opens it.
  const othersMayRead = (p: string) => { try { return (statSync(p).mode & R_OTHER) !== 0; } catch { return true; } };
  const facts: JailFacts = { othersMayRead };
  if (process.geteuid?.() !== 0) return facts;
  facts.identity = ensureJailUser();
  facts.unprivilegedPortStart = unprivilegedPortStart();
  if (accel === 'kvm' && existsSync('/dev/kvm')) facts.kvm = statSync('/dev/kvm');
  return facts;
}

async function waitForSocket(path: string, helper: RunningVm): Promise<void> {
  let gone = false;
  void helper.exited.then(() => { gone = true; });
  for (let i = 0; i < 500 && !gone; i++) {
    if (existsSync(path)) return;
    await new Promise((res) => setTimeout(res, 10));
  }
  const why = gone ? `it exited: ${(await helper.exited).diagnostics}` : 'its socket never appeared';
  throw new HyperbuildError(`${PROXY_HELPER} failed to serve a volume (${why})`, { exitCode: ExitCode.vmFailure });
}

/** One proxy helper per volume, chrooted into it; sockets handed to the VM user (the libvirt backend uses it too). */
export async function startProxies(layout: Pick<JailLayout, 'identity' | 'gid' | 'proxies'>): Promise<RunningVm[]> {
  const id = layout.identity!;
  const helpers: RunningVm[] = [];
  try {
    for (const p of layout.proxies) {
      const helper = await startVmProcess(PROXY_HELPER, ['-n', '-p', p.volume.hostPath, '-s', p.socket, '-u', String(id.uid), '-g', String(layout.gid ?? id.gid)]);
      helpers.push(helper);
      await waitForSocket(p.socket, helper);
    }
  } catch (err) {
    for (const h of helpers) h.kill();
    throw err;
  }
  return helpers;
}

/** Hand the jail directory (it stays 0700: the channel directory is made so) and its sockets to the VM user. */
export function handOver(dir: string, sockets: readonly string[], id: JailIdentity): void {
  chownSync(dir, id.uid, id.gid);
  for (const s of sockets) chownSync(s, id.uid, id.gid);
}

/**
 * Put a bundle file into the jail directory for a monitor we cannot hand
 * descriptors to (libvirt's): a hard link when the VM user may read the file
 * (no copy, no change to the bundle), else a copy it owns.
 */
export function stageFile(hostPath: string, jailPath: string, id: JailIdentity | undefined): void {
  const othersRead = (statSync(hostPath).mode & R_OTHER) !== 0;
  if (othersRead || !id) {
    try {
      linkSync(hostPath, jailPath);
      return;
    } catch { /* another filesystem: copy */ }
  }
  copyFileSync(hostPath, jailPath);
  if (id) chownSync(jailPath, id.uid, id.gid);
}

/** Hand the jail directory and sockets to the VM user, copy or open the bundle files. */
function prepareFiles(layout: JailLayout): number[] {
  const id = layout.identity!;
  handOver(layout.dir, layout.sockets, id);
  const fds: number[] = [];
  for (const f of layout.files) {
    if (f.how === 'copy') {
      copyFileSync(f.hostPath, f.jailPath);
      chownSync(f.jailPath, id.uid, id.gid);
    } else {
      fds[f.childFd - 3] = openSync(f.hostPath, 'r');
    }
  }
  return fds;
}

/** Start QEMU inside the layout; proxy helpers live and die with it. */
export async function startJailed(layout: JailLayout, command: string, args: readonly string[]): Promise<RunningVm> {
  if (!layout.identity) return startVmProcess(command, args);
  const fds = prepareFiles(layout);
  let helpers: RunningVm[] = [];
  try {
    helpers = await startProxies(layout);
    const vm = await startVmProcess(command, args, { uid: layout.identity.uid, gid: layout.gid, fds });
    void vm.exited.then(() => { for (const h of helpers) h.kill(); });
    return { pid: vm.pid, exited: vm.exited, kill: () => { vm.kill(); for (const h of helpers) h.kill(); } };
  } catch (err) {
    for (const h of helpers) h.kill();
    throw err;
  } finally {
    for (const fd of fds) if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The layout for the supervisor to apply (`run -d`, supervisor/spawn.c): files
 * that need a copy are copied now; descriptors, identity and the hand-over of
 * the channel directory and sockets (which the supervisor makes) are data.
 */
export function supervisedJail(layout: JailLayout, command: string, args: readonly string[]): SupervisedLaunch {
  const id = layout.identity;
  if (!id) return { command, args, files: [], handOver: [] };
  if (layout.proxies.length) {
    throw new HyperbuildError('-v with -d as root needs its volume proxy supervised, which the supervisor does not do yet', {
      hint: 'run it in the foreground (without -d), or as a non-root user', exitCode: ExitCode.usage,
    });
  }
  const files: { childFd: number; hostPath: string }[] = [];
  for (const f of layout.files) {
    if (f.how === 'fd') {
      files.push({ childFd: f.childFd, hostPath: f.hostPath });
      continue;
    }
    copyFileSync(f.hostPath, f.jailPath);
    chownSync(f.jailPath, id.uid, id.gid);
  }
  return { command, args, uid: id.uid, gid: layout.gid ?? id.gid, files, handOver: [layout.dir, ...layout.sockets] };
}
