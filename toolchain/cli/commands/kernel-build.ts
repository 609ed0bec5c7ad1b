import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { buildHyperKernel } from '../../kernel/build-hyperkernel.ts';

interface KernelBuildResult {
  key: string;
  dir: string;
  release?: string;
  configDigest?: string;
  files: { name: string; size: number }[];
  seconds: number;
}

/** One progress line per this many compiled objects when not --verbose: alive, not noisy. */
const COMPILE_PROGRESS_EVERY = 100;

export default class KernelBuild extends BaseCommand {
  static description = 'build HyperKernel, the minimal guest kernel, from linux-source-6.1 into the cache (skipped when cached)';

  static examples = ['<%= config.bin %> kernel build', '<%= config.bin %> kernel build --force --verbose'];

  static flags = {
    force: Flags.boolean({ description: 'rebuild even when this config is already cached' }),
    verbose: Flags.boolean({ description: 'show every kbuild line (CC, LD, ...)' }),
  };

  async run(): Promise<KernelBuildResult> {
    const { flags } = await this.parse(KernelBuild);
    let compiled = 0;
    // Progress goes to stderr so `--json` keeps stdout to the one result object.
    const progress = (line: string) => process.stderr.write(`${line}\n`);
    const entry = await buildHyperKernel({
      cacheDir: flags['cache-dir'],
      force: flags.force,
      onLine: (line) => {
        if (flags.verbose) return progress(line);
        if (/^\s+(CC|AS|LD|AR|HOSTCC)\s/.test(line)) {
          if (++compiled % COMPILE_PROGRESS_EVERY === 0) progress(`hyperkernel: ${compiled} objects built`);
          return;
        }
        if (/^(hyperkernel|check-config):|error/i.test(line)) progress(line);
      },
    });
    const result: KernelBuildResult = {
      key: entry.key,
      dir: entry.dir,
      release: entry.release,
      configDigest: entry.configDigest,
      files: entry.files,
      seconds: Math.round(entry.seconds * 10) / 10,
    };
    this.log(`HyperKernel ${result.release ?? ''} at ${result.dir}`);
    for (const f of result.files) this.log(`  ${f.name.padEnd(8)} ${(f.size / 1024 / 1024).toFixed(2)} MiB`);
    return result;
  }
}
