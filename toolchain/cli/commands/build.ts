/**
 * `hyperbuild build IMAGE -o DIR`: flags to build options, then the build
 * steps (toolchain/pipeline/build-bundle.ts) with progress.
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { parseByteSize } from '../../size/byte-size.ts';
import { kernelCacheDirFlag } from '../kernel-flags.ts';
import { projectFileFlag } from '../project-flag.ts';
import { COMPRESSION_CHOICES, type CompressionChoice } from '../../compress/kinds.ts';
import { BadInputError } from '../../errors/errors.ts';
import { DEFAULT_PLATFORM, parsePlatform } from '../../image/platform.ts';
import { AUTO_DISK_THRESHOLD, buildSteps, DEFAULT_COMPRESSION, DEFAULT_MAX_ROOTFS_SIZE, type BuildContext, type RootfsChoice } from '../../pipeline/build-bundle.ts';
import { runSteps } from '../../progress/steps.ts';
import { registryFlags, registryOptions } from '../../registry/registry-flags.ts';
import { buildTarget } from '../../project/build-target.ts';
import { buildInputFiles, freshenTarget, writeDepfile } from '../../project/depfile.ts';
import { BUNDLE_MANIFEST_NAME, type BundleManifest } from '../../bundle/manifest.ts';
import { join } from 'node:path';

function sourceDateEpoch(flag: string | undefined): number | undefined {
  const text = flag ?? process.env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === '') return undefined;
  const from = flag === undefined ? '$SOURCE_DATE_EPOCH' : '--source-date-epoch';
  const hint = 'give seconds since 1970-01-01 UTC, e.g. $(git log -1 --format=%ct)';
  if (!/^\d+$/.test(text)) throw new BadInputError(`${from} '${text}' is not a whole number of seconds`, { hint });
  if (!Number.isSafeInteger(Number(text))) throw new BadInputError(`${from} '${text}' is out of range`, { hint });
  return Number(text);
}

/** `--depfile`: the inputs of <output>/bundle.json for make; an up-to-date bundle older than an input is made current. */
async function recordDependencies(ctx: BuildContext, depfile: string, projectFile: string | undefined): Promise<void> {
  const target = join(ctx.opts.outDir, BUNDLE_MANIFEST_NAME);
  const inputs = buildInputFiles(ctx, projectFile ? [projectFile] : []);
  await writeDepfile(depfile, target, inputs);
  if (ctx.upToDate) await freshenTarget(target, inputs);
}

export default class Build extends BaseCommand {
  static summary = 'turn a container image into a bootable kernel+initramfs bundle';

  static description = `Reads the image without unpacking it to disk, verifies every digest, merges its layers with OCI semantics and writes <output>/bundle.json, <output>/kernel and <output>/initramfs.cpio.*. The output is replaced atomically; a failed build leaves the previous bundle as it was.`;

  static examples = [
    '<%= config.bin %> build oci:fixtures/out/busybox:latest -o out/hello',
    '<%= config.bin %> build web --depfile out/web.d   # bundle `web` of ./hyperbuild.yaml',
    '<%= config.bin %> build docker-archive:image.tar -o out/app --compression zstd',
    '<%= config.bin %> build registry.example.com/team/api:1.4 -o out/api --rootfs erofs',
    '<%= config.bin %> build aci:app.aci --aci-path ./acis -o out/app',
    'SOURCE_DATE_EPOCH=0 <%= config.bin %> build oci-archive:app.tar -o out/app --json',
  ];

  static args = {
    image: Args.string({ description: 'with -o: image reference: oci:DIR[:TAG|@DIGEST], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], aci:FILE, or a registry reference; without -o: a bundle NAME from hyperbuild.yaml (optional when it has one bundle)' }),
  };

  static flags = {
    output: Flags.string({ char: 'o', description: 'bundle directory to write (IMAGE mode; a project bundle has its own)' }),
    file: projectFileFlag,
    depfile: Flags.string({ description: 'write Make dependencies of <output>/bundle.json here: every input file (image files, kernel, HyperStart, project file)' }),
    platform: Flags.string({ default: DEFAULT_PLATFORM, description: 'platform to pick from a multi-platform image' }),
    compression: Flags.string({ options: [...COMPRESSION_CHOICES], default: DEFAULT_COMPRESSION, description: 'initramfs compression; auto: lz4, or none for an image under 16 MiB (see README for the measurements behind it)' }),
    'kernel-cache-dir': kernelCacheDirFlag,
    kernel: Flags.string({ description: 'kernel to put in the bundle: `hyperkernel` (built now when missing), `debian-cloud` (modular, no volumes) or a vmlinux (PVH)/bzImage file; default: the cached HyperKernel, refused with a hint when it is not built' }),
    'max-rootfs-size': Flags.string({ default: '2G', description: 'refuse images whose files add up to more than this (bounds decompression bombs)' }),
    rootfs: Flags.string({ options: ['initramfs', 'ext4', 'erofs', 'auto'], default: 'auto', description: `where the image's files go: the initramfs (guest RAM), or a read-only ext4/erofs disk with a tmpfs overlay; auto: a disk above ${AUTO_DISK_THRESHOLD / 1024 ** 2} MiB` }),
    'aci-path': Flags.string({ description: 'directory searched for ACI dependencies (repeatable)', multiple: true }),
    'source-date-epoch': Flags.string({ description: 'clamp file mtimes to this time (default: $SOURCE_DATE_EPOCH)' }),
    template: Flags.boolean({ description: 'also make the VM template a plain `boot` of the bundle starts from (once per bundle; `cache prune` removes it)' }),
    ...registryFlags,
  };

  async run(): Promise<BundleManifest & { output: string; upToDate: boolean; durationMs: number }> {
    const { args, flags, metadata } = await this.parse(Build);
    const started = Date.now();
    // A flag given on the command line beats the project file, which beats the flag's default.
    const given = <T>(name: string, value: T): T | undefined => (metadata.flags[name]?.setFromDefault ? undefined : value);
    const target = await buildTarget({ arg: args.image, output: flags.output, file: flags.file, cacheDir: flags['cache-dir'] });
    const ctx: BuildContext = {
      opts: {
        reference: target.reference,
        outDir: target.output,
        cacheDir: flags['cache-dir'],
        platform: parsePlatform(given('platform', flags.platform) ?? target.platform ?? flags.platform),
        compression: (given('compression', flags.compression) ?? target.compression ?? flags.compression) as CompressionChoice,
        kernelPath: flags.kernel ?? target.kernel,
        kernelCacheDir: flags['kernel-cache-dir'],
        maxRootfsSize: flags['max-rootfs-size'] ? parseByteSize(flags['max-rootfs-size'], '--max-rootfs-size') : DEFAULT_MAX_ROOTFS_SIZE,
        sourceDateEpoch: sourceDateEpoch(flags['source-date-epoch']),
        hyperbuildVersion: this.config.version,
        registry: registryOptions(flags),
        rootfs: (given('rootfs', flags.rootfs) ?? target.rootfs ?? flags.rootfs) as RootfsChoice,
        aciPath: flags['aci-path'],
      },
    };
    await runSteps(buildSteps(), ctx, this.jsonEnabled() ? 'silent' : 'auto');
    if (flags.depfile) await recordDependencies(ctx, flags.depfile, target.projectFile);
    const m = ctx.manifest!;
    const durationMs = Date.now() - started;
    if (!this.jsonEnabled()) {
      this.log(`${ctx.upToDate ? 'up to date' : 'built'}: ${target.output} (${m.initramfs.name} ${(m.initramfs.size / 1024 / 1024).toFixed(1)} MiB, ${m.kernel.kind} kernel) in ${(durationMs / 1000).toFixed(2)} s`);
    }
    if (flags.template) await this.makeTemplate(target.output, flags['cache-dir']);
    return { ...m, output: target.output, upToDate: !!ctx.upToDate, durationMs };
  }

  /** --template: loaded only when asked for, so a plain (or no-op) build parses none of the boot code. */
  private async makeTemplate(bundleDir: string, cacheDir: string): Promise<void> {
    const [{ makeTemplateAhead }, { hypervisorByName }] = await Promise.all([import('../../boot/template/make-ahead.ts'), import('../../boot/backends/registry.ts')]);
    const t = await makeTemplateAhead({ bundleDir, cacheDir, hypervisor: hypervisorByName(), say: (line) => process.stderr.write(`${line}\n`) });
    if (!this.jsonEnabled()) this.log(`VM template: ${t.dir} (${t.made ? `made in ${(t.ms / 1000).toFixed(2)} s` : 'up to date'}, ${(t.diskBytes / 1024 / 1024).toFixed(1)} MiB on disk)`);
  }
}
