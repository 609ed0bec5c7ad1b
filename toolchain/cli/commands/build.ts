/**
 * `hyperbuild build IMAGE -o DIR`: flags to build options, then the build
 * steps (toolchain/pipeline/build-bundle.ts) with progress.
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { parseByteSize } from '../../size/byte-size.ts';
import { kernelCacheDirFlag } from '../kernel-flags.ts';
import { COMPRESSIONS } from '../../compress/kinds.ts';
import { BadInputError } from '../../errors/errors.ts';
import { DEFAULT_PLATFORM, parsePlatform } from '../../image/platform.ts';
import { AUTO_DISK_THRESHOLD, buildSteps, DEFAULT_COMPRESSION, DEFAULT_MAX_ROOTFS_SIZE, type BuildContext, type RootfsChoice } from '../../pipeline/build-bundle.ts';
import { runSteps } from '../../progress/steps.ts';
import { registryFlags, registryOptions } from '../../registry/registry-flags.ts';
import type { BundleManifest, Compression } from '../../bundle/manifest.ts';

function sourceDateEpoch(flag: string | undefined): number | undefined {
  const text = flag ?? process.env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return undefined;
  if (!/^\d+$/.test(text)) throw new BadInputError(`SOURCE_DATE_EPOCH '${text}' is not a whole number of seconds`);
  return Number(text);
}

export default class Build extends BaseCommand {
  static summary = 'turn a container image into a bootable kernel+initramfs bundle';

  static description = `Reads the image without unpacking it to disk, verifies every digest, merges its layers with OCI semantics and writes <output>/bundle.json, <output>/kernel and <output>/initramfs.cpio.*. The output is replaced atomically; a failed build leaves the previous bundle as it was.`;

  static examples = [
    '<%= config.bin %> build oci:fixtures/out/busybox:latest -o out/hello',
    '<%= config.bin %> build docker-archive:image.tar -o out/app --compression zstd',
    '<%= config.bin %> build registry.example.com/team/api:1.4 -o out/api --rootfs erofs',
    '<%= config.bin %> build aci:app.aci --aci-path ./acis -o out/app',
    'SOURCE_DATE_EPOCH=0 <%= config.bin %> build oci-archive:app.tar -o out/app --json',
  ];

  static args = {
    image: Args.string({ required: true, description: 'image reference: oci:DIR[:TAG|@DIGEST], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], aci:FILE, or a registry reference' }),
  };

  static flags = {
    output: Flags.string({ char: 'o', required: true, description: 'bundle directory to write' }),
    platform: Flags.string({ default: DEFAULT_PLATFORM, description: 'platform to pick from a multi-platform image' }),
    compression: Flags.string({ options: [...COMPRESSIONS], default: DEFAULT_COMPRESSION, description: 'initramfs compression (see README for the measurements behind the default)' }),
    'kernel-cache-dir': kernelCacheDirFlag,
    kernel: Flags.string({ description: 'kernel to put in the bundle: `hyperkernel` (built now when missing), `debian-cloud` (modular, no volumes) or a vmlinux (PVH)/bzImage file; default: the cached HyperKernel, refused with a hint when it is not built' }),
    'max-rootfs-size': Flags.string({ default: '2G', description: 'refuse images whose files add up to more than this (bounds decompression bombs)' }),
    rootfs: Flags.string({ options: ['initramfs', 'ext4', 'erofs', 'auto'], default: 'auto', description: `where the image's files go: the initramfs (guest RAM), or a read-only ext4/erofs disk with a tmpfs overlay; auto: a disk above ${AUTO_DISK_THRESHOLD / 1024 ** 2} MiB` }),
    'aci-path': Flags.string({ description: 'directory searched for ACI dependencies (repeatable)', multiple: true }),
    'source-date-epoch': Flags.string({ description: 'clamp file mtimes to this time (default: $SOURCE_DATE_EPOCH)' }),
    ...registryFlags,
  };

  async run(): Promise<BundleManifest & { output: string; upToDate: boolean; durationMs: number }> {
    const { args, flags } = await this.parse(Build);
    const started = Date.now();
    const ctx: BuildContext = {
      opts: {
        reference: args.image,
        outDir: flags.output,
        cacheDir: flags['cache-dir'],
        platform: parsePlatform(flags.platform),
        compression: flags.compression as Compression,
        kernelPath: flags.kernel,
        kernelCacheDir: flags['kernel-cache-dir'],
        maxRootfsSize: flags['max-rootfs-size'] ? parseByteSize(flags['max-rootfs-size'], '--max-rootfs-size') : DEFAULT_MAX_ROOTFS_SIZE,
        sourceDateEpoch: sourceDateEpoch(flags['source-date-epoch']),
        hyperbuildVersion: this.config.version,
        registry: registryOptions(flags),
        rootfs: flags.rootfs as RootfsChoice,
        aciPath: flags['aci-path'],
      },
    };
    await runSteps(buildSteps(), ctx, this.jsonEnabled() ? 'silent' : 'auto');
    const m = ctx.manifest!;
    const durationMs = Date.now() - started;
    if (!this.jsonEnabled()) {
      this.log(`${ctx.upToDate ? 'up to date' : 'built'}: ${flags.output} (${m.initramfs.name} ${(m.initramfs.size / 1024 / 1024).toFixed(1)} MiB, ${m.kernel.kind} kernel) in ${(durationMs / 1000).toFixed(2)} s`);
    }
    return { ...m, output: flags.output, upToDate: !!ctx.upToDate, durationMs };
  }
}
