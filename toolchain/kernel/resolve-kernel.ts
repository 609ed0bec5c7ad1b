/**
 * Which kernel a bundle gets. Never a silent substitute: the same inputs
 * always give the same kernel, or an error saying what to do.
 *   - no `--kernel`: the cached HyperKernel for this checkout's config;
 *     when it is not built, the build is refused with a hint (building it
 *     here would make a CI job silently take 20 minutes);
 *   - `--kernel hyperkernel`: the same, but a missing one is built now,
 *     with progress lines and the time it took;
 *   - `--kernel debian-cloud`: Debian's cloud kernel (downloaded once,
 *     modular, no volumes), only when asked for by name;
 *   - `--kernel PATH`: the user's kernel, format detected from its bytes.
 * The kernel cache is its own directory (kernel-cache.ts), not `--cache-dir`.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BundleKernel } from '../bundle/manifest.ts';
import { sha256Digest } from '../digest/digest.ts';
import { FileFactMemo } from '../cache/file-fact-memo.ts';
import { BadInputError, HyperbuildError } from '../errors/errors.ts';
import { hyperKernelKey, readHyperKernelKeyInputs } from './cache-key.ts';
import { kernelFeatures, type KernelFeatures } from './kernel-features.ts';
import { compactVmlinux } from './compact-vmlinux.ts';
import { gzipVmlinux } from './gzip-vmlinux.ts';
import { detectKernelFormat } from './kernel-format.ts';
import { HYPERKERNEL_FILES, kernelsDir, listCachedKernels, readCachedKernel, type CachedKernelEntry } from './kernel-cache.ts';

export interface ResolvedKernel {
  /** The file that goes into the bundle (the HyperKernel's: gzip-compressed, `kernel.compression`). */
  path: string;
  /** The file a monitor loads: `path` itself, or what it unpacks to (the compact vmlinux). */
  bootPath: string;
  /** The file it was derived from, when that is another one (the padded vmlinux behind the compact copy): what a depfile names. */
  sourcePath?: string;
  kernel: Omit<BundleKernel, 'name' | 'digest' | 'size'>;
  /** Modules to pack into the initramfs, in load order, for modular kernels. */
  modules: { hostPath: string; name: string }[];
  features: KernelFeatures;
}

export interface ResolveKernelOptions {
  /** `hyperkernel`, `debian-cloud`, a kernel file, or undefined for the default (the cached HyperKernel). */
  kernelPath?: string;
  /** The kernel cache (kernel-cache.ts), not the blob cache. */
  cacheDir: string;
  log?: (line: string) => void;
}

export async function resolveKernel(opts: ResolveKernelOptions): Promise<ResolvedKernel> {
  const log = opts.log ?? (() => {});
  if (opts.kernelPath === 'debian-cloud') return debianCloudKernel(opts.cacheDir, log);
  if (opts.kernelPath && opts.kernelPath !== 'hyperkernel') return customKernel(resolve(opts.kernelPath), log);
  // Host facts (tool versions, the kernel's format) are remembered in the kernel cache: a no-op build spawns nothing.
  const memo = new FileFactMemo(opts.cacheDir);
  const key = await hyperKernelKeyOrRefuse(memo);
  const cached = await readCachedKernel(opts.cacheDir, key);
  if (cached) return hyperKernel(cached, log, memo);
  if (opts.kernelPath !== 'hyperkernel') throw await missingHyperKernel(opts.cacheDir, key);
  // The builder (and the Debian cloud kernel's fetcher) load only when used: a no-op build starts no process machinery.
  const { buildHyperKernel, HYPERKERNEL_BUILD_ESTIMATE, kernelBuildProgress } = await import('./build-hyperkernel.ts');
  log(`no HyperKernel for this config in ${kernelsDir(opts.cacheDir)}: building it now from linux-source-6.1 (${HYPERKERNEL_BUILD_ESTIMATE})`);
  const built = await buildHyperKernel({ cacheDir: opts.cacheDir, onLine: kernelBuildProgress(log) });
  log(`built HyperKernel ${built.release ?? ''} in ${Math.round(built.seconds)} s`);
  return hyperKernel(built, log, memo);
}

/** The key names the HyperKernel for this checkout; without linux-source-6.1 or gcc there is none to find or build. */
async function hyperKernelKeyOrRefuse(memo: FileFactMemo): Promise<string> {
  try {
    return hyperKernelKey(await readHyperKernelKeyInputs(undefined, memo));
  } catch (err) {
    throw new HyperbuildError(`cannot name this checkout's HyperKernel (the default kernel): ${(err as Error).message}`, {
      hint: '`make deps` installs linux-source-6.1 and gcc; or pass --kernel debian-cloud or --kernel PATH',
      cause: err,
    });
  }
}

async function missingHyperKernel(cacheDir: string, key: string): Promise<HyperbuildError> {
  const { HYPERKERNEL_BUILD_ESTIMATE } = await import('./build-hyperkernel.ts');
  const others = (await listCachedKernels(cacheDir)).filter((e) => e.kind === 'hyperkernel').length;
  const elsewhere = others ? `; ${others} cached for other configs or compilers` : '';
  return new HyperbuildError(`no HyperKernel for this checkout's config in ${kernelsDir(cacheDir)} (key ${key.slice(0, 12)}${elsewhere})`, {
    hint:
      `build it once with \`hyperbuild kernel build\` or \`make kernel\` (${HYPERKERNEL_BUILD_ESTIMATE}; cached afterwards), ` +
      'or pass --kernel hyperkernel to build it as part of this build; --kernel debian-cloud bundles Debian\'s modular cloud kernel instead',
  });
}

async function hyperKernel(entry: CachedKernelEntry, log: (line: string) => void, memo?: FileFactMemo): Promise<ResolvedKernel> {
  // Bundles get the vmlinux without its 2 MiB alignment padding (compact-vmlinux.ts): same memory image, 8 MB less;
  // stored gzip-compressed (gzip-vmlinux.ts: 12.0 MB → 3.7 MB), unpacked once per host at boot.
  const compact = await compactVmlinux(entry.dir, memo);
  const fmt = memo ? await memo.get(`kernel format ${compact}`, [compact], () => detectKernelFormat(compact)) : await detectKernelFormat(compact);
  const gz = await gzipVmlinux(compact, memo);
  log(`using HyperKernel ${entry.release ?? ''} (${entry.key.slice(0, 12)})`);
  return {
    path: gz.path,
    bootPath: compact,
    sourcePath: join(entry.dir, HYPERKERNEL_FILES.vmlinux),
    kernel: {
      kind: 'hyperkernel', release: entry.release ?? fmt.release, format: fmt.format, pvh: fmt.pvh, configDigest: entry.configDigest, modular: false,
      compression: 'gzip', uncompressedDigest: gz.uncompressedDigest, uncompressedSize: gz.uncompressedSize,
    },
    modules: [],
    features: kernelFeatures('hyperkernel'),
  };
}

async function debianCloudKernel(cacheDir: string, log: (line: string) => void): Promise<ResolvedKernel> {
  const { fetchDebianCloudKernel, findCachedDebianCloudKernel } = await import('./debian-cloud-kernel.ts');
  const cloud = (await findCachedDebianCloudKernel(cacheDir)) ?? (await fetchDebianCloudKernel(cacheDir, log));
  const config = await readFile(join(cloud.dir, HYPERKERNEL_FILES.config)).catch(() => undefined);
  log(`using the Debian cloud kernel ${cloud.release} (asked for by name; modular, ${cloud.modules.length} modules; no 9p, so no volumes)`);
  return {
    path: cloud.vmlinuz,
    bootPath: cloud.vmlinuz,
    kernel: { kind: 'debian-cloud', release: cloud.release, format: 'bzImage', pvh: false, configDigest: config && sha256Digest(config), modular: true },
    modules: cloud.modules,
    features: kernelFeatures('debian-cloud'),
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
  return { path, bootPath: path, kernel: { kind: 'custom', release: fmt.release, format: fmt.format, pvh: fmt.pvh, modular: false }, modules: [], features: kernelFeatures('custom') };
}
