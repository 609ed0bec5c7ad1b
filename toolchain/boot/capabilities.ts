/**
 * Asking before anything starts: a boot request is checked against what the
 * backend can do (HypervisorCapabilities) and what the bundle's kernel can do
 * (kernel-features.ts). Anything unsupported is refused here with exit 2 and a
 * hint, before a port is probed, a socket opened or a VM started, instead of
 * failing inside the guest after seconds of booting.
 */
import type { BundleManifest } from '../bundle/manifest.ts';
import { BadInputError } from '../errors/errors.ts';
import type { NetworkSpec } from '../hyperstart/protocol.ts';
import { KERNEL_KIND_NAMES, kernelFeatures } from '../kernel/kernel-features.ts';
import type { AccelRequest } from './accel.ts';
import type { Hypervisor, HypervisorCapabilities, KernelEntry, NetworkMode } from './hypervisor.ts';

/** The parts of a boot request a backend or kernel may not support. */
export interface BootWants {
  accel: AccelRequest;
  network: NetworkMode;
  publishes: boolean;
  volumes: boolean;
}

/** Only the backend's name and capabilities are consulted (no host probing here). */
export type Backend = Pick<Hypervisor, 'name' | 'capabilities'>;

function kernelEntry(kernel: BundleManifest['kernel']): KernelEntry | undefined {
  if (kernel.format === 'bzImage') return 'bzImage';
  return kernel.pvh ? 'pvh' : undefined;
}

function checkAccel(b: Backend, accel: AccelRequest): void {
  const caps = b.capabilities;
  if (accel !== 'auto' && !caps.accelerators.includes(accel)) {
    throw new BadInputError(`--accel ${accel}: the ${b.name} backend drives ${caps.accelerators.join(', ')}`, {
      hint: 'use --accel auto',
    });
  }
}

function checkNetwork(b: Backend, w: BootWants): void {
  const caps = b.capabilities;
  const offered = Object.keys(caps.networks);
  if (!caps.networks[w.network]) {
    throw new BadInputError(`--network ${w.network}: the ${b.name} backend offers ${offered.join(', ') || 'no network'}`, {
      hint: `use --network ${offered[0] ?? 'none'}`,
    });
  }
  if (w.publishes && !caps.publishOn.includes(w.network)) {
    throw new BadInputError(`--publish needs --network ${caps.publishOn.join('|') || '(none: the backend cannot publish ports)'}`, {
      hint: caps.publishOn.length ? `drop --network ${w.network} or the -p flags` : 'drop the -p flags',
    });
  }
}

function checkKernel(b: Backend, manifest: BundleManifest): void {
  const caps = b.capabilities;
  const entry = kernelEntry(manifest.kernel);
  if (!entry || !caps.kernelEntries.includes(entry)) {
    throw new BadInputError(`the bundle's kernel (${manifest.kernel.format}${manifest.kernel.pvh ? ', PVH' : ''}) cannot be booted by the ${b.name} backend`, {
      hint: `rebuild the bundle with a kernel it boots (${caps.kernelEntries.join(' or ')})`,
    });
  }
  if (manifest.rootfs && !caps.diskRootfs) {
    throw new BadInputError(`the bundle's root filesystem is a disk (${manifest.rootfs.name}) and the ${b.name} backend cannot attach disks`, {
      hint: 'rebuild the bundle with --rootfs initramfs',
    });
  }
}

function checkVolumes(b: Backend, manifest: BundleManifest): void {
  const how = b.capabilities.volumes;
  if (how === 'none') return; // refused by assertBackendSupports
  const kernel = kernelFeatures(manifest.kernel.kind);
  if (!kernel.shares.includes(how)) {
    const which = `${KERNEL_KIND_NAMES[manifest.kernel.kind]}${manifest.kernel.release ? ` ${manifest.kernel.release}` : ''}`;
    throw new BadInputError(`--volume: the bundle's kernel (${which}) has no ${how}, so it cannot mount host directories`, {
      hint: 'rebuild the bundle with the HyperKernel (`make kernel`, then `hyperbuild build`), or drop the -v flags',
    });
  }
}

/**
 * What needs no bundle: accelerator, network, publishing, volumes at all. The CLI
 * asks this before it pulls or builds anything. Throws BadInputError (exit 2).
 */
export function assertBackendSupports(b: Backend, w: BootWants): void {
  checkAccel(b, w.accel);
  checkNetwork(b, w);
  if (w.volumes && b.capabilities.volumes === 'none') {
    throw new BadInputError(`--volume: the ${b.name} backend cannot share host directories`, { hint: 'drop the -v flags' });
  }
}

/** Everything, the bundle's kernel and root filesystem included. Throws BadInputError (exit 2). */
export function assertSupported(b: Backend, manifest: BundleManifest, w: BootWants): void {
  assertBackendSupports(b, w);
  checkKernel(b, manifest);
  if (w.volumes) checkVolumes(b, manifest);
}

/** The addresses the guest configures on the chosen network (checked by assertSupported). */
export function guestNetwork(caps: HypervisorCapabilities, mode: NetworkMode): NetworkSpec {
  const spec = caps.networks[mode];
  if (!spec) throw new BadInputError(`--network ${mode} is not offered by this backend`);
  return spec;
}
