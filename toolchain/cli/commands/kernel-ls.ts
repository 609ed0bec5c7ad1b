/** `hyperbuild kernel ls`: the kernels in the kernel cache. */
import { BaseCommand } from '../base-command.ts';
import { kernelCacheDirFlag } from '../kernel-flags.ts';
import { listCachedKernels, type CachedKernelEntry } from '../../kernel/kernel-cache.ts';

export default class KernelLs extends BaseCommand {
  static description = 'list the kernels in the cache (HyperKernels and the Debian cloud kernel)';

  static examples = ['<%= config.bin %> kernel ls', '<%= config.bin %> kernel ls --json'];

  static flags = { 'kernel-cache-dir': kernelCacheDirFlag };

  async run(): Promise<{ kernels: CachedKernelEntry[] }> {
    const { flags } = await this.parse(KernelLs);
    const kernels = await listCachedKernels(flags['kernel-cache-dir']);
    if (!kernels.length) {
      this.log(`no kernels in ${flags['kernel-cache-dir']}/kernels (run \`hyperbuild kernel build\` or \`make kernel\`)`);
      return { kernels };
    }
    const rows = kernels.map((k) => [
      // HyperKernel keys are 64 hex digits; 12 identify them, as with image ids.
      k.kind === 'hyperkernel' ? k.key.slice(0, 12) : k.key,
      k.kind,
      k.release ?? '-',
      k.files.map((f) => `${f.name} ${(f.size / 1024 / 1024).toFixed(1)}M`).join(', '),
      k.configDigest ? k.configDigest.slice('sha256:'.length, 'sha256:'.length + 12) : '-',
    ]);
    const header = ['KEY', 'KIND', 'RELEASE', 'FILES', 'CONFIG'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [header, ...rows]) this.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  '));
    return { kernels };
  }
}
