/**
 * `hyperbuild export`: a verified bundle plus runtime options become a launch
 * file for another monitor, and (except for KubeVirt, whose initrd travels in
 * the image `push --as kubevirt` builds) the initrd that carries the runtime
 * spec (spec-segment.ts), written next to it as `STEM.initrd`. Everything is
 * checked before the first byte is written; every file is replaced
 * atomically. The bundle's kernel and disk rootfs are referenced where they
 * are, by absolute path: the export stays valid as long as the bundle does.
 * A kernel the bundle stores compressed (`kernel.gz`), which no monitor
 * loads, is unpacked (and verified, bundle/bootable-kernel.ts) next to the
 * launch file instead, as `STEM.vmlinux` (or `STEM.bzImage`).
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { writeUnpackedKernel } from '../bundle/bootable-kernel.ts';
import { openBundle } from '../bundle/open-bundle.ts';
import { defaultMemoryMiB } from '../boot/memory.ts';
import { BadInputError } from '../errors/errors.ts';
import { writeFileAtomic, writeStreamAtomic } from '../fs/atomic.ts';
import { CMDLINE_TABLE } from './cmdline-table.ts';
import { planExport, type ExportPlan } from './plan.ts';
import { renderCloudHypervisor } from './render-cloud-hypervisor.ts';
import { renderFirecracker } from './render-firecracker.ts';
import { renderKubevirt } from './render-kubevirt.ts';
import { renderLibvirt } from './render-libvirt.ts';
import { renderQemu } from './render-qemu.ts';
import { exportNetwork, runtimeSegment, type NetworkRequest, type SpecRequest } from './runtime.ts';
import { initrdWithSegment } from './spec-segment.ts';
import { checkExportRequest, TARGETS, type ExportNetworkMode, type ExportTarget, type ExportWants } from './targets.ts';

export interface ExportRequest {
  bundleDir: string;
  target: ExportTarget;
  /** The launch file to write. */
  output: string;
  /** kubevirt: the image `push --as kubevirt` pushed. */
  image?: string;
  name?: string;
  memoryMiB?: number;
  cpus: number;
  network?: ExportNetworkMode;
  net: NetworkRequest;
  spec: SpecRequest;
  /** libvirt: domain type. */
  accel: 'kvm' | 'tcg';
  wants: Omit<ExportWants, 'network' | 'publishes' | 'cpus'>;
}

export interface ExportResult {
  format: ExportTarget;
  /** What the launch file is. */
  kind: string;
  written: { role: 'launch' | 'initrd' | 'kernel'; path: string }[];
  cmdline: string;
  cmdlineSource: string;
  memoryMiB: number;
  cpus: number;
  network: ExportNetworkMode;
}

/** `dir/STEM.suffix` for an output `dir/STEM.ext`. */
export function companionPath(output: string, suffix: string): string {
  const abs = resolve(output);
  const base = basename(abs);
  const stem = extname(base) ? base.slice(0, -extname(base).length) : base;
  return join(dirname(abs), `${stem}.${suffix}`);
}

async function checkOutput(bundleDir: string, output: string, companions: string[]): Promise<void> {
  if (dirname(output) === resolve(bundleDir)) {
    throw new BadInputError(`export output ${output} is inside the bundle directory`, { hint: 'write the export elsewhere: a bundle holds only what its bundle.json names' });
  }
  for (const p of [output, ...companions]) {
    const st = await stat(p).catch(() => undefined);
    if (st?.isDirectory()) throw new BadInputError(`export output ${p} is a directory`, { hint: 'give -o a file name, e.g. -o run-web.sh' });
  }
  if (companions.includes(resolve(output))) throw new BadInputError(`export output ${output} would be overwritten by its own initrd or kernel`, { hint: 'choose another -o name' });
}

function render(plan: ExportPlan, image: string | undefined): string {
  switch (plan.target) {
    case 'qemu': return renderQemu(plan);
    case 'cloud-hypervisor': return renderCloudHypervisor(plan);
    case 'firecracker': return renderFirecracker(plan);
    case 'libvirt': return renderLibvirt(plan);
    case 'kubevirt': return renderKubevirt(plan, image!);
  }
}

export async function exportBundle(r: ExportRequest): Promise<ExportResult> {
  const opened = await openBundle(r.bundleDir, { verify: 'full' });
  const m = opened.manifest;
  const mode = checkExportRequest(r.target, m, { ...r.wants, network: r.network, publishes: r.net.publish.length > 0, cpus: r.cpus });
  if (r.target === 'kubevirt' && !r.image) {
    throw new BadInputError('--format kubevirt needs --image REF: the kernelBoot image `hyperbuild push BUNDLE REF --as kubevirt` pushed', { hint: 'push it first, then pass the same REF' });
  }
  if (r.target !== 'kubevirt' && r.image) throw new BadInputError(`--image is for --format kubevirt, not ${r.target}`, { hint: 'drop --image' });
  const network = exportNetwork(mode, r.net);
  const output = resolve(r.output);
  const initrd = r.target === 'kubevirt' ? undefined : companionPath(output, 'initrd');
  // KubeVirt's kernel travels in the image (push --as kubevirt), unpacked there.
  const kernelCopy = r.target !== 'kubevirt' && m.kernel.compression ? companionPath(output, m.kernel.format) : undefined;
  const consoleLog = companionPath(output, 'console.log');
  await checkOutput(r.bundleDir, output, [...(initrd ? [initrd] : []), ...(kernelCopy ? [kernelCopy] : [])]);
  const path = (role: string) => opened.files.find((f) => f.role === role)?.path;
  const plan = planExport({
    target: r.target, bundleDir: resolve(r.bundleDir), manifest: m,
    kernelPath: kernelCopy ?? resolve(path('kernel')!), initrdPath: initrd ?? '', rootfsPath: path('rootfs') && resolve(path('rootfs')!),
    memoryMiB: r.memoryMiB ?? defaultMemoryMiB(m.initramfs), cpus: r.cpus, network, accel: r.accel, consoleLog,
    outDir: dirname(output), name: r.name,
  });
  const text = render(plan, r.image);
  const written: ExportResult['written'] = [];
  if (kernelCopy) {
    await writeUnpackedKernel(opened, kernelCopy);
    written.push({ role: 'kernel', path: kernelCopy });
  }
  if (initrd) {
    const initramfs = opened.files.find((f) => f.role === 'initramfs')!;
    const segment = await runtimeSegment(opened, r.spec, network.guest);
    await writeStreamAtomic(initrd, initrdWithSegment(initramfs.path, segment));
    written.push({ role: 'initrd', path: initrd });
  }
  const executable = r.target === 'qemu' || r.target === 'cloud-hypervisor';
  await writeFileAtomic(output, text, { mode: executable ? 0o755 : 0o644 });
  written.push({ role: 'launch', path: output });
  return {
    format: r.target, kind: TARGETS[r.target].writes, written, cmdline: plan.cmdline, cmdlineSource: CMDLINE_TABLE[r.target].source,
    memoryMiB: plan.memoryMiB, cpus: plan.cpus, network: mode,
  };
}
