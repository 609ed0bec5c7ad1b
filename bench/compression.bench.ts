/**
 * Which initramfs compression boots fastest: the ~150 MB benchmark image built
 * with each compressor (initramfs rootfs forced), then booted under TCG with
 * `-- true`. The guest kernel's own decompression under emulation dominates,
 * so this, not host-side speed, picks the default.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBigImage } from './make-big-image.ts';
import { median, row, timeShell } from './timing.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

export function compressionBench(root: string, benchOut: string, kernelCache: string): string[] {
  const image = makeBigImage(join(benchOut, 'big'));
  const lines = ['## initramfs compression: ~150 MB image, HyperKernel, TCG', row(['compression', 'build s', 'size MiB', 'boot s'])];
  for (const c of ['gzip', 'zstd', 'lz4', 'none']) {
    const out = join(benchOut, `big-${c}`);
    const build = timeShell(`${root}/bin/hyperbuild build oci:${image}:latest -o ${out} --compression ${c} --rootfs initramfs --kernel-cache-dir ${kernelCache} --json >/dev/null`);
    const m = JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8'));
    const boots = Array.from({ length: RUNS }, () => {
      const r = spawnSync(`${root}/bin/hyperbuild`, ['boot', '--json', out, '--', 'true'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`boot of ${out} failed: ${r.stderr.slice(-500)}`);
      return JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).durationMs / 1000;
    });
    lines.push(row([c, build, m.initramfs.size / 1024 ** 2, median(boots)]));
  }
  return lines;
}
