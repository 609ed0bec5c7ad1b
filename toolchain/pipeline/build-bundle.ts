/**
 * The `build` pipeline: image → kernel → merged rootfs → initramfs (and disk)
 * → bundle directory, as progress steps, with the no-op check for unchanged inputs.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COMPRESSIONS, type CompressionChoice } from '../compress/kinds.ts';
import { sha256Digest } from '../digest/digest.ts';
import { formatPlatform } from '../image/platform.ts';
import {
  BUNDLE_MEDIA_TYPE,
  BUNDLE_SCHEMA_VERSION,
  INITRAMFS_FILE_NAMES,
  kernelFileName,
  type BundleManifest,
} from '../bundle/manifest.ts';
import { writeBundle } from '../bundle/write-bundle.ts';
import { readBundleManifest, verifyBundleFiles } from '../bundle/open-bundle.ts';
import { DigestMemo } from '../cache/digest-memo.ts';
import { HYPERSTART_VERSION } from '../hyperstart/version.ts';
import { loadHyperStartBinary } from '../hyperstart/binary.ts';
import { resolveKernel } from '../kernel/resolve-kernel.ts';
import type { Step } from '../progress/steps.ts';
import { openImageSource } from '../source/open-source.ts';
import { buildKey } from './build-key.ts';
import { diskToolVersions } from './disk-tool-versions.ts';
import { FileFactMemo } from '../cache/file-fact-memo.ts';
import { cacheKeyHex, type BuildContext, type CachedInitramfs } from './build-context.ts';

export { AUTO_DISK_THRESHOLD, type BuildContext, type BuildOptions, type RootfsChoice } from './build-context.ts';

export const DEFAULT_MAX_ROOTFS_SIZE = 2 * 1024 ** 3;
/**
 * `auto`: lz4 (legacy frame), or none for a small archive (compress/kinds.ts).
 * lz4: a 150 MB image booted in 2.2 s under TCG against 3.9 s (gzip) and 4.1 s
 * (zstd), because the guest kernel decompresses it; it builds twice as fast as
 * gzip. zstd stays the choice for the smallest bundle (README).
 */
export const DEFAULT_COMPRESSION: CompressionChoice = 'auto';
/**
 * What the bundle boots with before `boot` adds console and machine options.
 * initramfs_async=0: unpack before the devices probe, so the initrd's copy is
 * freed before virtio fills its queues; with it the hello bundle boots in
 * 28 MiB every time, without it 9 times in 10 (same boot time on 1 vCPU).
 */
export const BUNDLE_CMDLINE = 'rdinit=/.hyperstart/init panic=-1 initramfs_async=0';

async function cachedInitramfs(cacheDir: string, key: string, memo: DigestMemo): Promise<CachedInitramfs | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(cacheDir, 'initramfs', `${cacheKeyHex(key)}.json`), 'utf8')) as CachedInitramfs;
    // An entry from before `auto` (no compression recorded) is rebuilt, not guessed at.
    if (!(COMPRESSIONS as readonly string[]).includes(meta.compression)) return undefined;
    for (const f of [meta, ...(meta.disk ? [meta.disk] : [])]) {
      const { digest, size } = await memo.digest(f.path);
      if (digest !== f.digest || size !== f.size) return undefined;
    }
    return meta;
  } catch {
    return undefined;
  }
}

/**
 * Up to date: bundle.json parses, has the same build key, and every file still
 * has its recorded size and digest (through the digest memo: a few stats).
 * Anything else, including no bundle at all, means build.
 */
async function bundleIsCurrent(outDir: string, key: string, memo: DigestMemo): Promise<BundleManifest | undefined> {
  try {
    const { manifest } = await readBundleManifest(outDir);
    if (manifest.buildKey !== key) return undefined;
    await verifyBundleFiles(outDir, manifest, { verify: 'memo', memo });
    return manifest;
  } catch {
    return undefined;
  }
}

function bundleManifest(ctx: BuildContext): BundleManifest {
  const { opts, image, kernel, initramfs, hyperstart } = ctx as Required<BuildContext>;
  return {
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    mediaType: BUNDLE_MEDIA_TYPE,
    source: {
      reference: opts.reference,
      manifestDigest: image.manifestDigest,
      configDigest: image.configDigest,
      platform: formatPlatform(image.config.platform),
    },
    image: image.config.runtime,
    kernel: { name: kernelFileName(kernel.kernel.compression), digest: kernel.digest, size: kernel.size, ...kernel.kernel },
    initramfs: {
      name: INITRAMFS_FILE_NAMES[initramfs.compression],
      digest: initramfs.digest,
      size: initramfs.size,
      compression: initramfs.compression,
      uncompressedSize: initramfs.uncompressedSize,
    },
    ...(initramfs.disk ? { rootfs: { name: `rootfs.${initramfs.disk.type}`, digest: initramfs.disk.digest, size: initramfs.disk.size, type: initramfs.disk.type } } : {}),
    cmdline: BUNDLE_CMDLINE,
    hyperstart: { version: HYPERSTART_VERSION, digest: hyperstart.digest },
    rootfsBytes: initramfs.rootfsBytes,
    ...(opts.sourceDateEpoch !== undefined ? { sourceDateEpoch: opts.sourceDateEpoch } : {}),
    buildKey: ctx.key!,
  };
}

/** The build as progress steps: image source → layers → merged tree → initramfs → bundle. */
export function buildSteps(): Step<BuildContext>[] {
  return [
    {
      title: 'Resolve image',
      run: async (ctx, report) => {
        ctx.image = await openImageSource(ctx.opts.reference, { registry: ctx.opts.registry, aci: { aciPath: ctx.opts.aciPath } }).resolve({ platform: ctx.opts.platform, cacheDir: ctx.opts.cacheDir, log: report });
        report(`${ctx.image.manifestDigest} (${ctx.image.layers().length} layers)`);
      },
    },
    {
      title: 'Kernel and HyperStart',
      run: async (ctx, report) => {
        // Independent look-ups (each spawns or reads a file): run them together, the no-op path is mostly these.
        const [kernel, hs, diskTools] = await Promise.all([
          resolveKernel({ kernelPath: ctx.opts.kernelPath, cacheDir: ctx.opts.kernelCacheDir, log: report }),
          loadHyperStartBinary(),
          // Other e2fsprogs/erofs-utils versions write other bytes.
          ctx.opts.rootfs === 'initramfs' ? Promise.resolve('') : diskToolVersions(new FileFactMemo(ctx.opts.cacheDir)),
        ]);
        ctx.memo = new DigestMemo(ctx.opts.cacheDir);
        ctx.kernel = { ...kernel, ...(await ctx.memo.digest(kernel.path)) };
        ctx.hyperstart = { bytes: hs.bytes, digest: sha256Digest(hs.bytes) };
        ctx.key = buildKey({
          hyperbuildVersion: ctx.opts.hyperbuildVersion,
          imageContentKey: ctx.image!.contentKey,
          platform: formatPlatform(ctx.opts.platform),
          kernelDigest: ctx.kernel.digest,
          hyperstartDigest: ctx.hyperstart.digest,
          compression: ctx.opts.compression,
          sourceDateEpoch: ctx.opts.sourceDateEpoch,
          maxRootfsSize: ctx.opts.maxRootfsSize,
          rootfs: ctx.opts.rootfs,
          diskTools,
        });
        const current = await bundleIsCurrent(ctx.opts.outDir, ctx.key, ctx.memo);
        if (current) {
          ctx.upToDate = true;
          ctx.manifest = current;
        }
        report(`${kernel.kernel.kind} kernel ${kernel.kernel.release ?? ''}`.trim());
      },
    },
    {
      title: 'Build initramfs',
      skip: (ctx) => (ctx.upToDate ? 'bundle is up to date' : false),
      run: async (ctx, report) => {
        ctx.initramfs = (await cachedInitramfs(ctx.opts.cacheDir, ctx.key!, ctx.memo!)) ?? (await (await import('./build-rootfs.ts')).buildRootfsArtifacts(ctx, report));
      },
    },
    {
      title: 'Write bundle',
      skip: (ctx) => (ctx.upToDate ? 'bundle is up to date' : false),
      run: async (ctx) => {
        ctx.manifest = bundleManifest(ctx);
        await writeBundle(
          ctx.opts.outDir,
          [
            { name: ctx.manifest.kernel.name, from: ctx.kernel!.path },
            { name: ctx.manifest.initramfs.name, from: ctx.initramfs!.path },
            ...(ctx.manifest.rootfs ? [{ name: ctx.manifest.rootfs.name, from: ctx.initramfs!.disk!.path }] : []),
          ],
          ctx.manifest,
          'bundle',
        );
        // The copies are byte-identical to verified files: remember their digests for the next no-op check.
        const m = ctx.manifest;
        await ctx.memo!.remember(join(ctx.opts.outDir, m.kernel.name), m.kernel.digest);
        await ctx.memo!.remember(join(ctx.opts.outDir, m.initramfs.name), m.initramfs.digest);
        if (m.rootfs) await ctx.memo!.remember(join(ctx.opts.outDir, m.rootfs.name), m.rootfs.digest);
      },
    },
  ];
}
