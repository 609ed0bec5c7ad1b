/**
 * The seam between `boot` and a virtual machine monitor. The session only sees
 * these types: what a backend can do (its capabilities, asked before anything
 * starts, see capabilities.ts), an opaque launch plan (describe() for
 * --verbose, start() to run it) and a running VM. Everything monitor-specific
 * lives in one file per backend under backends/ (like LinuxKit's
 * src/cmd/linuxkit/run_*.go), found by name in backends/registry.ts.
 */
import { join } from 'node:path';
import type { BundleManifest } from '../bundle/manifest.ts';
import type { NetworkSpec } from '../hyperstart/protocol.ts';
import type { ShareFilesystem } from '../kernel/kernel-features.ts';
import type { Accel, AccelDecision, AccelRequest } from './accel.ts';
import type { PortPublish } from './publish.ts';
import type { VolumeMount } from './volume.ts';

/** `--network`: `user` (NAT with host port publishing) or `none` (loopback only). */
export type NetworkMode = 'user' | 'none';
export const NETWORK_MODES: readonly NetworkMode[] = ['user', 'none'];

/** How a backend boots a kernel: a PVH ELF entry point, or the bzImage boot protocol. */
export type KernelEntry = 'pvh' | 'bzImage';

/** What a backend can do. Plain data, so requests are checked before a VM exists. */
export interface HypervisorCapabilities {
  /** Accelerators it drives; a forced `--accel` outside them is refused. */
  accelerators: readonly Accel[];
  /** Guest networks it offers, each with the addresses HyperStart configures statically. */
  networks: Readonly<Partial<Record<NetworkMode, NetworkSpec>>>;
  /** Networks on which it forwards host ports into the guest (`-p`); empty: no publishing. */
  publishOn: readonly NetworkMode[];
  /** How `-v` host directories reach the guest; the kernel must mount that filesystem. */
  volumes: ShareFilesystem | 'none';
  /** Attaches a bundle's disk root filesystem (rootfs.ext4/erofs) read-only. */
  diskRootfs: boolean;
  kernelEntries: readonly KernelEntry[];
  /**
   * How the HyperStart ports and the serial console reach hyperbuild:
   * virtio-serial ports and a UART whose host ends connect to unix sockets
   * hyperbuild listens on (channels.ts), or its supervisor for `run -d`.
   */
  transport: 'virtio-serial-unix';
  /**
   * How a VM outlives the hyperbuild that started it (`run -d`): `supervisor`
   * when the plan gives an argv the small C supervisor (supervisor/) execs and
   * owns (it listens on the channel endpoints and holds the guest link);
   * `none`: foreground only.
   */
  detach: 'supervisor' | 'none';
  /** Saves a booted VM and starts clones from it (VM templates: LaunchPlan.snapshots, toolchain/boot/template/). */
  snapshot: boolean;
}

/** Unix socket paths the VM connects to; hyperbuild listens on them (channels.ts). */
export interface ChannelEndpoints {
  control: string;
  stdout: string;
  stderr: string;
  /** The serial console (kernel + HyperStart diagnostics). */
  console: string;
}

/** A request already checked against the capabilities, with the accelerator decided. */
export interface LaunchRequest {
  bundleDir: string;
  manifest: BundleManifest;
  /**
   * Absolute path of the kernel the monitor loads (bundle/bootable-kernel.ts):
   * the bundle's kernel file, or its unpacked copy in the cache when the
   * bundle stores it compressed. Every other bundle file is `bundleDir/name`.
   */
  kernelPath: string;
  accel: Accel;
  memoryMiB: number;
  cpus: number;
  network: NetworkMode;
  publish: PortPublish[];
  volumes: VolumeMount[];
  verbose: boolean;
  channels: ChannelEndpoints;
  /** Where the backend may remember host facts (its version probe); none: probe every time. */
  cacheDir?: string;
}

/** A VM the supervisor starts (`run -d`): the program and argv it execs as its child, and how. */
export interface SupervisedLaunch {
  command: string;
  args: readonly string[];
  /** Exec it as this user and group (the jail, jail.ts); absent: as the supervisor. */
  uid?: number;
  gid?: number;
  /** Host files it inherits, opened read-only by the supervisor: fd `childFd` is `hostPath`. */
  files: readonly { childFd: number; hostPath: string }[];
  /** Paths the supervisor hands to uid/gid once it has made them (the channel directory, its sockets). */
  handOver: readonly string[];
}

export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The monitor's own diagnostics (its stderr), for error messages. */
  diagnostics: string;
}

export interface RunningVm {
  readonly pid: number;
  /** Resolves once the monitor process has exited, however that happened. */
  readonly exited: Promise<VmExit>;
  /** Hard power-off now (the guest gets no say); safe to call more than once. */
  kill(): void;
}

/**
 * Everything needed to start the VM, decided before anything runs. Opaque to the
 * session: backends keep their own details (QEMU's argv) on their own plan type.
 */
export interface LaunchPlan {
  readonly hypervisor: string;
  /** Backend-specific machine type, for diagnostics and --json (e.g. `microvm`, `q35`). */
  readonly machine: string;
  /** The full kernel command line passed to the guest. */
  readonly cmdline: string;
  /** One line saying what will run, for --verbose. */
  describe(): string;
  /** Start the VM; it never outlives hyperbuild. */
  start(): Promise<RunningVm>;
  /**
   * Instead of start(): what the supervisor (capability `detach`) execs, in the
   * VM's state directory; files the jail copies are copied now.
   */
  supervised?(): SupervisedLaunch;
  /** Present when this VM can start from a template (capability `snapshot`); the session decides whether it does. */
  readonly snapshots?: PlanSnapshots;
}

/**
 * A backend's VM templates for one plan: save a VM booted to HyperStart's `H`
 * into a directory, start clones of it. The template store (template/) names,
 * verifies and keeps the directories; the backend only reads and writes them.
 */
export interface PlanSnapshots {
  /** Digest of everything the saved machine depends on but the bundle: monitor version, machine shape, devices. */
  readonly shape: string;
  /** The shape's parts, recorded with the template for people. */
  readonly parts: Readonly<Record<string, unknown>>;
  /** The files a saved VM consists of, in its directory. */
  readonly files: readonly string[];
  /** Boot a VM of this shape on `channels`, wait for `ready` (the guest said H), save it into `dir`, end it. */
  save(dir: string, channels: ChannelEndpoints, ready: (vm: RunningVm) => Promise<void>): Promise<void>;
  /** Start a clone of the VM saved in `dir` on the plan's channels, running; rejects when it cannot be restored. */
  restore(dir: string): Promise<RunningVm>;
  /** One line saying what restore() runs, for --verbose. */
  describeRestore(dir: string): string;
}

export interface Hypervisor {
  readonly name: string;
  readonly capabilities: HypervisorCapabilities;
  /** Settle `--accel` on this host (HyperbuildError when a forced choice cannot work). */
  chooseAccel(request: AccelRequest): AccelDecision;
  /** Fails with a HyperbuildError (and an install hint) when the monitor is missing. */
  prepare(request: LaunchRequest): Promise<LaunchPlan>;
}

/** The host path of a bundle file a request names: kernelPath for the kernel, `bundleDir/name` for the others. */
export function launchFilePath(r: Pick<LaunchRequest, 'bundleDir' | 'manifest' | 'kernelPath'>, name: string): string {
  return name === r.manifest.kernel.name ? r.kernelPath : join(r.bundleDir, name);
}

export function describeVmExit(e: VmExit): string {
  return e.signal ? `killed by ${e.signal}` : `exit status ${e.code}`;
}
