/** `hyperbuild kernel build`: builds the HyperKernel into the kernel cache, with progress and the time it took. */
import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { kernelCacheDirFlag } from '../kernel-flags.ts';
import { buildHyperKernel, kernelBuildProgress } from '../../kernel/build-hyperkernel.ts';

interface KernelBuildResult {
  key: string;
  dir: string;
  release?: string;
  configDigest?: string;
  files: { name: string; size: number }[];
  seconds: number;
}

export default class KernelBuild extends BaseCommand {
  static description = 'build HyperKernel, the minimal guest kernel, from linux-source-6.1 into the kernel cache (skipped when cached)';

  static examples = ['<%= config.bin %> kernel build', '<%= config.bin %> kernel build --force --verbose', '<%= config.bin %> kernel build --kernel-cache-dir /var/cache/hyperbuild'];

  static flags = {
    force: Flags.boolean({ description: 'rebuild even when this config is already cached' }),
    verbose: Flags.boolean({ description: 'show every kbuild line (CC, LD, ...)' }),
    'kernel-cache-dir': kernelCacheDirFlag,
  };

  async run(): Promise<KernelBuildResult> {
    const { flags } = await this.parse(KernelBuild);
    // Progress goes to stderr so `--json` keeps stdout to the one result object.
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    const entry = await buildHyperKernel({
      cacheDir: flags['kernel-cache-dir'],
      force: flags.force,
      onLine: kernelBuildProgress(progress, flags.verbose),
    });
    const result: KernelBuildResult = {
      key: entry.key,
      dir: entry.dir,
      release: entry.release,
      configDigest: entry.configDigest,
      files: entry.files,
      seconds: Math.round(entry.seconds * 10) / 10,
    };
    this.log(`HyperKernel ${result.release ?? ''} at ${result.dir} (${result.seconds} s)`);
    for (const f of result.files) this.log(`  ${f.name.padEnd(8)} ${(f.size / 1024 / 1024).toFixed(2)} MiB`);
    return result;
  }
}
