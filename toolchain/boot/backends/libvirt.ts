/**
 * libvirt backend: boots a bundle as a transient domain (`virsh create`, XML
 * from libvirt-domain.ts) on the connection `--connect URI` names, as virsh
 * spells it (default: virsh's own, i.e. $LIBVIRT_DEFAULT_URI, else
 * qemu:///system for root and qemu:///session otherwise). libvirt's QEMU
 * driver only: its XML features (the qemu:commandline passthrough) are QEMU's;
 * Xen (libxl) and Cloud Hypervisor (ch) would need their own device mapping
 * and are refused, not guessed.
 *
 * The jail: libvirt starts QEMU itself, as its configured user (qemu:///system:
 * the DAC base label in `virsh capabilities`, libvirt-qemu on Debian;
 * qemu:///session: the daemon's user) under its seccomp sandbox (qemu.conf
 * `seccomp_sandbox`, on by default: the same -sandbox options as jail.ts).
 * hyperbuild hands the 0700 channel directory to that user and stages the
 * bundle's files in it (hard links, or copies when that user could not read
 * them), since libvirt cannot take our file descriptors for a kernel.
 *
 * No domain outlives hyperbuild: transient domains vanish when they stop, a
 * failed `virsh create` defines nothing, and a watchdog shell started before
 * the domain destroys it by name when hyperbuild dies, even by SIGKILL
 * (the same pipe trick as vm-process.ts).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ExitCode, HyperbuildError } from '../../errors/errors.ts';
import { chooseAccel, probeHost, type AccelDecision, type AccelProbe, type AccelRequest } from '../accel.ts';
import { launchFilePath, type Hypervisor, type HypervisorCapabilities, type LaunchPlan, type LaunchRequest, type RunningVm, type VmExit } from '../hypervisor.ts';
import { assertPortsBindable, handOver, stageFile, startProxies, unprivilegedPortStart, type JailIdentity } from '../jail.ts';
import { libvirtCmdline, libvirtDomainXml, type DomainPlacement } from './libvirt-domain.ts';
import { QEMU_USER_NETWORK } from './qemu.ts';

export const VIRSH_BINARY = 'virsh';
export const LIBVIRT_INSTALL_HINT = 'apt-get install libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu';
export const LIBVIRT_START_HINT = 'start libvirtd (`systemctl start libvirtd`, or `virtlogd -d && libvirtd -d`), or name a running one with --connect URI';
/** libvirt 7.1 added `<cpu mode='maximum'>` (QEMU's -cpu max, needed under TCG). */
export const LIBVIRT_MIN_VERSION = [7, 1, 0] as const;

export const LIBVIRT_CAPABILITIES: HypervisorCapabilities = {
  accelerators: ['kvm', 'tcg'],
  // libvirt's <interface type='user'> is QEMU's slirp: the same fixed addresses as the QEMU backend.
  networks: { user: QEMU_USER_NETWORK, none: { mode: 'none' } },
  publishOn: ['user'],
  volumes: '9p',
  diskRootfs: true,
  kernelEntries: ['pvh', 'bzImage'],
  transport: 'virtio-serial-unix',
  detach: 'none',
  snapshot: false,
};

/** How to reach libvirt: the virsh program and the URI (undefined: virsh's default). */
export interface LibvirtConnection { virsh: string; uri?: string }

const uriArgs = (c: LibvirtConnection) => (c.uri ? ['-c', c.uri] : []);

/** virsh's own words, without its `error: ` prefixes, on one line. */
function virshMessage(stderr: string): string {
  return stderr.split('\n').map((l) => l.replace(/^error:\s*/, '').trim()).filter(Boolean).join(': ');
}

function virshSync(c: LibvirtConnection, args: string[]): { ok: boolean; stdout: string; message: string } {
  const r = spawnSync(c.virsh, [...uriArgs(c), ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new HyperbuildError(missing ? `${c.virsh} not found` : `cannot run ${c.virsh}: ${r.error.message}`, {
      hint: LIBVIRT_INSTALL_HINT, exitCode: ExitCode.vmFailure,
    });
  }
  return { ok: r.status === 0, stdout: r.stdout, message: virshMessage(r.stderr) };
}

/** `x.y.z` ≥ the minimum? */
export function versionAtLeast(version: string, min: readonly number[]): boolean {
  const parts = version.split('.').map(Number);
  for (let i = 0; i < min.length; i++) {
    const p = parts[i] ?? 0;
    if (p !== min[i]) return p > min[i];
  }
  return true;
}

export interface LibvirtProbe { uri: string; daemonVersion: string; hypervisor: string }

/** Parse `virsh 'uri; version --daemon'`; refuse what this backend cannot drive. Pure. */
export function checkProbe(stdout: string): LibvirtProbe {
  const uri = stdout.split('\n').map((l) => l.trim()).find((l) => /^[a-z0-9+]+:\/\//.test(l)) ?? '';
  const daemonVersion = /Running against daemon:\s*(\S+)/.exec(stdout)?.[1] ?? '';
  const hypervisor = /Running hypervisor:\s*(.+)/.exec(stdout)?.[1]?.trim() ?? '';
  if (!/^qemu[+:]/.test(uri) || !/^QEMU\b/.test(hypervisor)) {
    throw new HyperbuildError(`the libvirt backend drives libvirt's QEMU driver only; ${uri || 'this connection'} runs ${hypervisor || 'another hypervisor'}`, {
      hint: 'use --connect qemu:///system or qemu:///session (Xen and Cloud Hypervisor through libvirt are not supported yet)', exitCode: ExitCode.vmFailure,
    });
  }
  if (!versionAtLeast(daemonVersion, LIBVIRT_MIN_VERSION)) {
    throw new HyperbuildError(`libvirt ${daemonVersion || '(unknown version)'} at ${uri} lacks <cpu mode='maximum'> (libvirt ${LIBVIRT_MIN_VERSION.join('.')})`, {
      hint: 'upgrade libvirt (Debian 12 ships 9.0), or use --hypervisor qemu', exitCode: ExitCode.vmFailure,
    });
  }
  return { uri, daemonVersion, hypervisor };
}

/** Connect once: proves libvirtd answers, and says what it is. */
export function probeLibvirt(c: LibvirtConnection): LibvirtProbe {
  const r = virshSync(c, ['uri; version --daemon']);
  if (!r.ok) {
    throw new HyperbuildError(`cannot connect to libvirt${c.uri ? ` at ${c.uri}` : ''}: ${r.message || 'virsh failed'}`, {
      hint: LIBVIRT_START_HINT, exitCode: ExitCode.vmFailure,
    });
  }
  return checkProbe(r.stdout);
}

/**
 * Who libvirt's QEMU runs as, for handing it the jail directory. Pure given
 * the capabilities XML (system) or the daemon socket's owner (session).
 * Undefined: the same user as hyperbuild, nothing to hand over.
 */
export function qemuIdentityFrom(uri: string, facts: { capabilitiesXml?: string; sessionSocketOwner?: { uid: number; gid: number }; selfUid: number }): JailIdentity | undefined {
  let found: { uid: number; gid: number } | undefined;
  if (/\/system(\?|$)/.test(uri)) {
    const m = /<model>dac<\/model>[\s\S]*?<baselabel type='(?:kvm|qemu)'>\+(\d+):\+(\d+)<\/baselabel>/.exec(facts.capabilitiesXml ?? '');
    if (m) found = { uid: Number(m[1]), gid: Number(m[2]) };
  } else {
    found = facts.sessionSocketOwner;
  }
  if (!found || found.uid === facts.selfUid) return undefined;
  return { user: `uid ${found.uid}`, ...found };
}

function lookupQemuIdentity(c: LibvirtConnection, uri: string): JailIdentity | undefined {
  const selfUid = process.geteuid?.() ?? 0;
  if (/\/system(\?|$)/.test(uri)) {
    const caps = virshSync(c, ['capabilities']);
    return qemuIdentityFrom(uri, { capabilitiesXml: caps.ok ? caps.stdout : '', selfUid });
  }
  const socket = /[?&]socket=([^&]+)/.exec(c.uri ?? '')?.[1];
  let owner: { uid: number; gid: number } | undefined;
  if (socket) {
    try { owner = statSync(decodeURIComponent(socket)); } catch { /* virsh already connected to it; an unreadable one keeps our uid */ }
  }
  return qemuIdentityFrom(uri, { sessionSocketOwner: owner, selfUid });
}

const WATCHDOG_SCRIPT = 'read _ignored; virsh "$@" >/dev/null 2>&1';

/** Destroys the domain by name when hyperbuild's end of the pipe closes (its death, however it came). */
function startDomainWatchdog(c: LibvirtConnection, name: string): ChildProcess {
  const dog = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'hyperbuild-libvirt-watchdog', ...uriArgs(c), 'destroy', name], {
    detached: true, stdio: ['pipe', 'ignore', 'ignore'], env: { ...process.env, PATH: `${dirname(c.virsh)}:${process.env.PATH ?? ''}` },
  });
  dog.on('error', () => { /* the exit hook still covers orderly exits */ });
  dog.stdin?.on('error', () => {});
  dog.unref();
  (dog.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  return dog;
}

/** Resolves when the domain is gone: libvirt's lifecycle events, with a slow domstate check behind them. */
function watchDomain(c: LibvirtConnection, name: string): { exited: Promise<VmExit>; stop: () => void } {
  let events: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let settle: (e: VmExit) => void = () => {};
  const exited = new Promise<VmExit>((resolve) => { settle = resolve; });
  const stop = () => { clearInterval(timer); events?.kill('SIGKILL'); };
  const finish = (e: VmExit) => { stop(); settle(e); };
  const check = () => {
    const state = spawn(c.virsh, [...uriArgs(c), 'domstate', name], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    state.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    state.on('error', () => {});
    state.on('close', (code) => {
      if (code !== 0 || /shut off|crashed/.test(out)) finish({ code: /crashed/.test(out) ? 1 : 0, signal: null, diagnostics: '' });
    });
  };
  events = spawn(c.virsh, [...uriArgs(c), 'event', '--domain', name, '--event', 'lifecycle', '--loop'], { stdio: ['ignore', 'pipe', 'ignore'] });
  events.on('error', () => {});
  events.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const stopped = /: Stopped (\w+)/.exec(d);
    if (!stopped) return;
    // Destroyed: libvirt killed QEMU (our kill(), or someone's `virsh destroy`); Failed/Crashed: QEMU died on its own.
    if (stopped[1] === 'Destroyed') finish({ code: null, signal: 'SIGKILL', diagnostics: 'libvirt destroyed the domain' });
    else finish({ code: /Failed|Crashed/.test(stopped[1]) ? 1 : 0, signal: null, diagnostics: stopped[1] === 'Shutdown' ? '' : `libvirt: stopped (${stopped[1]})` });
  });
  // A domain that stopped before the event subscription took hold sends no event: look now and then.
  events.on('close', check);
  timer = setInterval(check, 2000);
  return { exited, stop };
}

/** Everything start() needs, decided in prepare(). */
export interface LibvirtLaunch {
  connection: LibvirtConnection;
  identity?: JailIdentity;
  placement: DomainPlacement;
  /** Bundle files to stage into the jail directory: host path → staged path. */
  staged: { hostPath: string; jailPath: string }[];
  xml: string;
  xmlPath: string;
}

async function createDomain(l: LibvirtLaunch, request: LaunchRequest): Promise<RunningVm> {
  const dir = dirname(request.channels.control);
  const proxies = request.volumes.filter((v) => l.placement.proxySockets[v.tag]).map((volume) => ({ volume, socket: l.placement.proxySockets[volume.tag] }));
  if (l.identity) {
    handOver(dir, Object.values(request.channels), l.identity);
    for (const s of l.staged) stageFile(s.hostPath, s.jailPath, l.identity);
  }
  writeFileSync(l.xmlPath, l.xml);
  const helpers = proxies.length ? await startProxies({ identity: l.identity, gid: l.identity?.gid, proxies }) : [];
  const dog = startDomainWatchdog(l.connection, l.placement.name);
  const stopHelpers = () => { for (const h of helpers) h.kill(); try { if (dog.pid) process.kill(dog.pid, 'SIGKILL'); } catch { /* gone */ } };
  const created = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn(l.connection.virsh, [...uriArgs(l.connection), 'create', l.xmlPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    p.on('error', (err) => resolve({ code: -1, stderr: err.message }));
    p.on('close', (code) => resolve({ code, stderr }));
  });
  if (created.code !== 0) {
    stopHelpers();
    throw new HyperbuildError(`libvirt refused the domain: ${virshMessage(created.stderr)}`, { hint: 'rerun with --verbose to see the domain XML', exitCode: ExitCode.vmFailure });
  }
  const watch = watchDomain(l.connection, l.placement.name);
  let destroyed = false;
  const kill = () => {
    if (destroyed) return;
    destroyed = true;
    spawnSync(l.connection.virsh, [...uriArgs(l.connection), 'destroy', l.placement.name], { stdio: 'ignore', timeout: 30_000 });
  };
  process.on('exit', kill);
  void watch.exited.then(() => { destroyed = true; process.off('exit', kill); stopHelpers(); });
  // The QEMU process is libvirtd's child, not ours: there is no pid of it to give.
  return { pid: 0, exited: watch.exited, kill };
}

/** Decide names, paths and the XML; nothing on disk yet. */
export function planLibvirtLaunch(r: LaunchRequest, connection: LibvirtConnection, identity: JailIdentity | undefined, name: string): LibvirtLaunch {
  const dir = dirname(r.channels.control);
  const files = [r.manifest.kernel.name, r.manifest.initramfs.name, ...(r.manifest.rootfs ? [r.manifest.rootfs.name] : [])];
  const staged = identity ? files.map((f) => ({ hostPath: launchFilePath(r, f), jailPath: join(dir, `bundle-${basename(f)}`) })) : [];
  const paths = Object.fromEntries(files.map((f, i) => [f, staged[i]?.jailPath ?? launchFilePath(r, f)]));
  // Proxied volumes only when QEMU runs as someone else and we are root (the helper needs root to serve host owners).
  const proxy = identity && process.geteuid?.() === 0;
  const proxySockets = proxy ? Object.fromEntries(r.volumes.map((v) => [v.tag, join(dir, `9p-${v.tag}.sock`)])) : {};
  const placement: DomainPlacement = { name, paths, proxySockets };
  return { connection, identity, placement, staged, xml: libvirtDomainXml(r, placement), xmlPath: join(dir, 'domain.xml') };
}

export interface LibvirtHostSources {
  env?: NodeJS.ProcessEnv;
  accelProbe?: () => AccelProbe;
}

export class LibvirtHypervisor implements Hypervisor {
  readonly name = 'libvirt';
  readonly capabilities = LIBVIRT_CAPABILITIES;

  constructor(private readonly connect?: string, private readonly host: LibvirtHostSources = {}) {}

  chooseAccel(request: AccelRequest): AccelDecision {
    // The host's facts stand for libvirtd's only on this machine; a remote URI is untested.
    return chooseAccel(request, (this.host.accelProbe ?? probeHost)());
  }

  async prepare(request: LaunchRequest): Promise<LaunchPlan> {
    const env = this.host.env ?? process.env;
    const connection: LibvirtConnection = { virsh: env.HYPERBUILD_VIRSH || VIRSH_BINARY, uri: this.connect || undefined };
    const probe = probeLibvirt(connection);
    const identity = lookupQemuIdentity(connection, probe.uri);
    if (identity) assertPortsBindable(request, identity, unprivilegedPortStart());
    const name = `hyperbuild-${basename(request.bundleDir).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40)}-${randomBytes(4).toString('hex')}`;
    const launch = planLibvirtLaunch(request, connection, identity, name);
    return {
      hypervisor: 'libvirt', machine: 'q35', cmdline: libvirtCmdline(request),
      describe: () => `virsh ${[...uriArgs(connection), 'create', launch.xmlPath].join(' ')} (domain ${name} on ${probe.uri}, libvirt ${probe.daemonVersion}, ${probe.hypervisor}):\n${launch.xml}`,
      start: () => createDomain(launch, request),
    };
  }
}
