/**
 * The seam between `boot` and a virtual machine monitor. The CLI and the
 * HyperStart protocol code only see these types; everything QEMU-specific lives
 * in qemu.ts, and Firecracker / Cloud Hypervisor become sibling files
 * (one file per backend, like LinuxKit's src/cmd/linuxkit/run_*.go).
 */
import type { BundleManifest } from '../bundle/manifest.ts';
import type { Accel } from './accel.ts';
import type { PortPublish } from './publish.ts';
import type { VolumeMount } from './volume.ts';

/** Unix socket paths the VM connects to; hyperbuild listens on them (channels.ts). */
export interface ChannelEndpoints {
  control: string;
  stdout: string;
  stderr: string;
  /** The serial console (kernel + HyperStart diagnostics). */
  console: string;
}

export interface LaunchRequest {
  bundleDir: string;
  manifest: BundleManifest;
  accel: Accel;
  memoryMiB: number;
  cpus: number;
  network: 'user' | 'none';
  publish: PortPublish[];
  volumes: VolumeMount[];
  verbose: boolean;
  channels: ChannelEndpoints;
  /** Host TSC rate, for guests that cannot calibrate their own clock (tsc-frequency.ts). */
  tscKhz?: number;
}

/** Everything needed to start the VM, decided before anything runs (unit-testable). */
export interface LaunchPlan {
  hypervisor: string;
  /** Backend-specific machine type, for diagnostics and --json (e.g. `microvm`, `q35`). */
  machine: string;
  command: string;
  args: string[];
  /** The full kernel command line passed to the guest. */
  cmdline: string;
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

export interface Hypervisor {
  readonly name: string;
  /** Fails with a HyperbuildError (and an install hint) when the monitor is missing. */
  prepare(request: LaunchRequest): Promise<LaunchPlan>;
  start(plan: LaunchPlan): Promise<RunningVm>;
}

/** Wait for a VM to exit, killing it when `ms` pass first. */
export async function waitOrKill(vm: RunningVm, ms: number): Promise<VmExit> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); });
  const first = await Promise.race([vm.exited, timeout]);
  clearTimeout(timer);
  if (first !== 'timeout') return first;
  vm.kill();
  return vm.exited;
}
