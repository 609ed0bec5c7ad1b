/**
 * Which kernel a bundle gets, in order:
 *   1. `--kernel PATH`: the user's kernel, format detected from its bytes
 *      (`--kernel hyperkernel` / `--kernel debian-cloud` pick one of ours by name);
 *   2. the cached HyperKernel for this checkout's config (`make kernel`);
 *   3. Debian's cloud kernel (downloaded once, modular, no volumes).
 * The log line always says which one was used: a silent fallback to the
 * slower modular kernel would look like a hyperbuild regression.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BundleKernel } from '../bundle/manifest.ts';
import { sha256Digest } from '../digest/digest.ts';
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import { hyperKernelKey, readHyperKernelKeyInputs } from './cache-key.ts';
import { fetchDebianCloudKernel, findCachedDebianCloudKernel } from './debian-cloud-kernel.ts';
import { detectKernelFormat } from './kernel-format.ts';
import { HYPERKERNEL_FILES, listCachedKernels, readCachedKernel } from './kernel-cache.ts';

export interface ResolvedKernel {
  path: string;
  kernel: Omit<BundleKernel, 'name' | 'digest' | 'size'>;
  /** Modules to pack into the initramfs, in load order, for modular kernels. */
  modules: { hostPath: string; name: string }[];
  features: { volumes: boolean };
}

export interface ResolveKernelOptions {
  kernelPath?: string;
  cacheDir: string;
  log?: (line: string) => void;
}

export async function resolveKernel(opts: ResolveKernelOptions): Promise<ResolvedKernel> {
  const log = opts.log ?? (() => {});
  if (opts.kernelPath === 'hyperkernel') {
    const hyper = await cachedHyperKernel(opts.cacheDir, log);
    if (!hyper) throw new HyperbuildError(`no HyperKernel for this checkout's config in ${opts.cacheDir}`, { hint: 'run `make kernel` (or `hyperbuild kernel build`)' });
    return hyper;
  }
  if (opts.kernelPath === 'debian-cloud') return debianCloudKernel(opts.cacheDir, log);
  if (opts.kernelPath) return customKernel(resolve(opts.kernelPath), log);
  return (await cachedHyperKernel(opts.cacheDir, log)) ?? debianCloudKernel(opts.cacheDir, log);
}

async function debianCloudKernel(cacheDir: string, log: (line: string) => void): Promise<ResolvedKernel> {
  const cloud = (await findCachedDebianCloudKernel(cacheDir)) ?? (await fetchDebianCloudKernel(cacheDir, log));
  const config = await readFile(join(cloud.dir, HYPERKERNEL_FILES.config)).catch(() => undefined);
  log(`using the Debian cloud kernel ${cloud.release} (modular, ${cloud.modules.length} modules; no 9p, so no volumes); \`make kernel\` builds the faster HyperKernel`);
  return {
    path: cloud.vmlinuz,
    kernel: { kind: 'debian-cloud', release: cloud.release, format: 'bzImage', pvh: false, configDigest: config && sha256Digest(config), modular: true },
    modules: cloud.modules,
    features: { volumes: false },
  };
}

async function customKernel(path: string, log: (line: string) => void): Promise<ResolvedKernel> {
  const fmt = await detectKernelFormat(path);
  if (fmt.format === 'vmlinux' && !fmt.pvh) {
    throw new BadInputError(`${path} is a vmlinux without a PVH entry point (no Xen PHYS32_ENTRY ELF note), so no VMM here can boot it`, {
      hint: 'build it with CONFIG_PVH=y, or pass its bzImage (arch/x86/boot/bzImage) instead',
    });
  }
  log(`using custom kernel ${path} (${fmt.format}${fmt.pvh ? ', PVH' : ''}${fmt.release ? `, ${fmt.release}` : ''})`);
  // A custom kernel is taken as complete (built-in drivers); HyperStart reports
  // a missing filesystem or device at boot if it is not.
  return { path, kernel: { kind: 'custom', release: fmt.release, format: fmt.format, pvh: fmt.pvh, modular: false }, modules: [], features: { volumes: true } };
}

async function cachedHyperKernel(cacheDir: string, log: (line: string) => void): Promise<ResolvedKernel | undefined> {
  let key: string;
  try {
    key = hyperKernelKey(await readHyperKernelKeyInputs());
  } catch (err) {
    // No linux-source-6.1 or no gcc: this host cannot have built HyperKernel.
    log(`no HyperKernel: ${(err as Error).message}`);
    return undefined;
  }
  const entry = await readCachedKernel(cacheDir, key);
  if (!entry) {
    const others = (await listCachedKernels(cacheDir)).filter((e) => e.kind === 'hyperkernel').length;
    log(
      others
        ? `no HyperKernel for this config (key ${key.slice(0, 12)}; ${others} cached for other configs/compilers): run \`make kernel\``
        : `no HyperKernel in ${cacheDir}: run \`make kernel\``,
    );
    return undefined;
  }
  const path = join(entry.dir, HYPERKERNEL_FILES.vmlinux);
  const fmt = await detectKernelFormat(path);
  log(`using HyperKernel ${entry.release ?? ''} (${key.slice(0, 12)})`);
  return {
    path,
    kernel: { kind: 'hyperkernel', release: entry.release ?? fmt.release, format: fmt.format, pvh: fmt.pvh, configDigest: entry.configDigest, modular: false },
    modules: [],
    features: { volumes: true },
  };
}
