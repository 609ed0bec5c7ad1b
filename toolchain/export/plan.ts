/**
 * What an export launches, decided before anything is written, as plain data
 * the renderers (render-*.ts) turn into text. Every path is absolute; the sh
 * renderers write paths inside the export's own directory relative to the
 * script. Pure: same bundle and options, same plan.
 */
import { basename } from 'node:path';
import type { BundleManifest, RootfsType } from '../bundle/manifest.ts';
import type { PortPublish } from '../boot/publish.ts';
import type { NetworkSpec } from '../hyperstart/protocol.ts';
import { exportCmdline } from './cmdline-table.ts';
import type { ExportNetworkMode, ExportTarget } from './targets.ts';

export interface ExportNetwork {
  mode: ExportNetworkMode;
  /** What HyperStart configures in the guest. */
  guest: NetworkSpec;
  /** `user` only: host port forwards. */
  publish: PortPublish[];
  /** `tap` only: the host tap device. */
  tap?: string;
}

export interface ExportPlan {
  target: ExportTarget;
  /** VM name (libvirt domain, KubeVirt object): a DNS-1123 label. */
  name: string;
  kernel: { path: string; format: 'vmlinux' | 'bzImage'; pvh: boolean };
  initrd: string;
  rootfs?: { path: string; type: RootfsType };
  /** The whole guest kernel command line. */
  cmdline: string;
  memoryMiB: number;
  cpus: number;
  network: ExportNetwork;
  /** libvirt only: the domain type (`kvm`, or `qemu` for TCG emulation). */
  accel: 'kvm' | 'tcg';
  /** libvirt only: the file the serial console is written to. */
  consoleLog: string;
  /** Where the launch file goes; sh scripts find their companion files relative to it. */
  outDir: string;
  /** For the generated file's header comment. */
  source: { bundleDir: string; reference: string; buildKey: string };
}

/** A DNS-1123 label (libvirt accepts it, KubeVirt requires it) from any text, e.g. a bundle directory name. */
export function vmName(text: string): string {
  const label = text.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '');
  return label || 'hyperbuild-vm';
}

export interface PlanInputs {
  target: ExportTarget;
  bundleDir: string;
  manifest: BundleManifest;
  kernelPath: string;
  initrdPath: string;
  rootfsPath?: string;
  memoryMiB: number;
  cpus: number;
  network: ExportNetwork;
  accel: 'kvm' | 'tcg';
  consoleLog: string;
  outDir: string;
  name?: string;
}

export function planExport(i: PlanInputs): ExportPlan {
  const m = i.manifest;
  return {
    target: i.target,
    name: vmName(i.name ?? basename(i.bundleDir)),
    kernel: { path: i.kernelPath, format: m.kernel.format, pvh: m.kernel.pvh },
    initrd: i.initrdPath,
    rootfs: m.rootfs && i.rootfsPath ? { path: i.rootfsPath, type: m.rootfs.type } : undefined,
    cmdline: exportCmdline(i.target, m.cmdline),
    memoryMiB: i.memoryMiB,
    cpus: i.cpus,
    network: i.network,
    accel: i.accel,
    consoleLog: i.consoleLog,
    outDir: i.outDir,
    source: { bundleDir: i.bundleDir, reference: m.source.reference, buildKey: m.buildKey },
  };
}
