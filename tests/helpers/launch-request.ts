/**
 * A LaunchRequest for pure backend tests (argv, domain XML, jail layout,
 * template keys, supervised plans): a minimal HyperKernel bundle manifest
 * (optionally with an ext4 rootfs) and defaults each test overrides.
 */
import { join } from 'node:path';
import type { BundleManifest } from '../../toolchain/bundle/manifest.ts';
import type { LaunchRequest } from '../../toolchain/boot/hypervisor.ts';

export function minimalManifest(rootfs = false): BundleManifest {
  return {
    kernel: { name: 'vmlinux', digest: '', size: 1, kind: 'hyperkernel', format: 'vmlinux', pvh: true, modular: false },
    initramfs: { name: 'initramfs.cpio.gz', digest: '', size: 1, compression: 'gzip', uncompressedSize: 1 },
    ...(rootfs ? { rootfs: { name: 'rootfs.ext4', digest: '', size: 1, type: 'ext4' } } : {}),
    cmdline: 'rdinit=/.hyperstart/init',
  } as BundleManifest;
}

/** Channel sockets under `dir`. */
export function socketsIn(dir: string): LaunchRequest['channels'] {
  return { control: `${dir}/ctl.sock`, stdout: `${dir}/out.sock`, stderr: `${dir}/err.sock`, console: `${dir}/con.sock` };
}

/** kernelPath defaults to the bundle's own kernel file (an uncompressed kernel), like every bundle before kernel compression. */
export function launchRequest(over: Partial<LaunchRequest> = {}): LaunchRequest {
  const r: Omit<LaunchRequest, 'kernelPath'> = {
    bundleDir: '/b', manifest: minimalManifest(), accel: 'tcg', memoryMiB: 128, cpus: 1, network: 'user', publish: [], volumes: [], verbose: false,
    channels: socketsIn('/t'),
    ...over,
  };
  return { ...r, kernelPath: over.kernelPath ?? join(r.bundleDir, r.manifest.kernel.name) };
}
