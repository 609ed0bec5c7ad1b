/**
 * `make bench`: every benchmark section in one run, printed as tables with
 * ratios against the peer tools. Not part of the tests: timings vary by machine.
 * BENCH_ONLY=build,noop,boot,density,compression,rootfs,registry,detached limits the sections; BENCH_RUNS sets repetitions.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bootBench } from './boot.bench.ts';
import { densityBench } from './density.bench.ts';
import { buildBench } from './build.bench.ts';
import { noopBench } from './noop.bench.ts';
import { registryBench } from './registry.bench.ts';
import { compressionBench } from './compression.bench.ts';
import { rootfsBench } from './rootfs.bench.ts';
import { detachedBench } from './detached.bench.ts';
import { resolveKernel } from '../toolchain/kernel/resolve-kernel.ts';
import { defaultCacheDir } from '../toolchain/cache/cache-dir.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'bench', 'out');
mkdirSync(out, { recursive: true });
const only = process.env.BENCH_ONLY?.split(',');
const kernelCache = process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir();

/** Hello-world bundles, one per kernel, built with the CLI (the default compression unless told). */
function helloBundle(kernel: 'hyperkernel' | 'debian-cloud', compression = 'auto'): string {
  const dir = join(out, `hello-${kernel}-${compression}`);
  execFileSync(`${root}/bin/hyperbuild`, ['build', `oci:${root}/fixtures/out/busybox:hello`, '-o', dir, '--kernel', kernel, '--compression', compression, '--kernel-cache-dir', kernelCache], { stdio: ['ignore', 'ignore', 'inherit'] });
  return dir;
}

const cloudKernel = async () => (await resolveKernel({ cacheDir: kernelCache, kernelPath: 'debian-cloud' })).path;

const sections: [string, () => Promise<string[]>][] = [
  ['build', async () => buildBench(root, out)],
  ['noop', async () => noopBench(root)],
  [
    'boot',
    async () =>
      bootBench(
        root,
        [
          { dir: helloBundle('hyperkernel'), label: 'HyperKernel' },
          { dir: helloBundle('debian-cloud'), label: 'Debian cloud kernel' },
        ],
        await cloudKernel(),
        out,
      ),
  ],
  ['density', async () => densityBench(root, helloBundle('hyperkernel'), out)],
  ['compression', async () => compressionBench(root, out, kernelCache)],
  ['rootfs', async () => rootfsBench(root, out, kernelCache)],
  ['registry', async () => registryBench(root, out, helloBundle('hyperkernel'))],
  ['detached', async () => detachedBench(root, helloBundle('hyperkernel'), out)],
];

for (const [name, run] of sections) {
  if (only && !only.includes(name)) continue;
  for (const line of await run()) process.stdout.write(`${line}\n`);
  process.stdout.write('\n');
}
