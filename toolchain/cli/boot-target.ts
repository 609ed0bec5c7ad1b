/**
 * What `boot` accepts as its target, made into a bundle directory: a directory
 * as is, a bundle in a registry pulled into the cache, any other image
 * reference built into the cache first.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { BuildContext } from '../pipeline/build-bundle.ts';
import type { ProgressMode } from '../progress/steps.ts';
import type { RegistryOptions } from '../registry/client.ts';

export interface BootTargetOptions {
  cacheDir: string;
  kernelCacheDir: string;
  registry: RegistryOptions;
  hyperbuildVersion: string;
  progress: ProgressMode;
}

/** A transport prefix (`oci:`, `docker://`…) or an explicit registry host (`host.tld/…`, `host:port/…`, `localhost/…`). */
function looksLikeReference(target: string): boolean {
  if (/^(oci|oci-archive|docker-archive|aci|docker):/.test(target)) return true;
  const first = target.split('/')[0];
  return target.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost') && !target.startsWith('.');
}

/**
 * What `boot` accepts besides a bundle directory, made into one:
 * a bundle in a registry is pulled (verified) into the cache; an ordinary
 * image reference (registry, oci:, archives, aci:) is built into the cache
 * first, where the next boot finds it up to date.
 */
export async function bootTarget(target: string, opts: BootTargetOptions): Promise<{ bundleDir: string; temporary: boolean }> {
  // A path is a bundle directory (boot checks it is one). `out/app` could also
  // be a Docker Hub name, so a registry reference must name its registry.
  if (existsSync(target) || !looksLikeReference(target)) return { bundleDir: target, temporary: false };
  // Only now: a bundle directory (every warm boot) loads none of the registry client and build pipeline.
  const [{ parseImageReference }, { inspectReference }, { pullBundle }, { buildSteps, DEFAULT_COMPRESSION, DEFAULT_MAX_ROOTFS_SIZE }, { DEFAULT_PLATFORM, parsePlatform }, { runSteps }] = await Promise.all([
    import('../source/reference.ts'), import('../registry/inspect.ts'), import('../registry/bundle-pull.ts'),
    import('../pipeline/build-bundle.ts'), import('../image/platform.ts'), import('../progress/steps.ts'),
  ]);
  const ref = parseImageReference(target);
  if (ref.transport === 'registry' && (await inspectReference(ref.ref, { ...opts.registry, cacheDir: opts.cacheDir })).kind === 'bundle') {
    await mkdir(join(opts.cacheDir, 'bundles'), { recursive: true });
    const dir = join(await mkdtemp(join(opts.cacheDir, 'bundles', 'pulled-')), 'bundle');
    await pullBundle(ref.ref, dir, { ...opts.registry, cacheDir: opts.cacheDir });
    return { bundleDir: dir, temporary: true };
  }
  const outDir = join(opts.cacheDir, 'bundles', `built-${createHash('sha256').update(target).digest('hex').slice(0, 32)}`);
  const ctx: BuildContext = {
    opts: {
      reference: target,
      outDir,
      cacheDir: opts.cacheDir,
      kernelCacheDir: opts.kernelCacheDir,
      platform: parsePlatform(DEFAULT_PLATFORM),
      compression: DEFAULT_COMPRESSION,
      maxRootfsSize: DEFAULT_MAX_ROOTFS_SIZE,
      hyperbuildVersion: opts.hyperbuildVersion,
      registry: opts.registry,
      rootfs: 'auto',
    },
  };
  await runSteps(buildSteps(), ctx, opts.progress);
  return { bundleDir: outDir, temporary: false };
}
