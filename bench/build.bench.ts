/**
 * Build benchmark: the same ~150 MB image through the peer pipeline
 * (umoci raw unpack + find | sort | GNU cpio -o -H newc + the same compressor)
 * and through `hyperbuild build`, cold (blobs local, empty cache), plus the
 * no-op rebuild. Medians of RUNS runs, in one process run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBigImage } from './make-big-image.ts';
import { median, row, timeShell } from './timing.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/** Kernels are shared with the machine's cache; everything else starts cold. */
const kernelEnv = { HYPERBUILD_KERNEL_CACHE_DIR: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? join(process.env.HOME ?? '/root', '.cache', 'hyperbuild') };

export function buildBench(root: string, benchOut: string): string[] {
  const image = makeBigImage(join(benchOut, 'big'));
  const work = mkdtempSync(join(tmpdir(), 'hb-bench-'));
  const lines: string[] = ['## build: ~150 MB, 4-layer image, blobs local', row(['pipeline', 'median s', 'ratio'])];
  try {
    for (const [compression, peerCompressor] of [['lz4', 'lz4 -q -l -1'], ['gzip', 'gzip -6 -n'], ['zstd', 'zstd -q -9 -T2']] as const) {
      const peer = median(Array.from({ length: RUNS }, (_, i) => {
        const dir = join(work, `peer-${compression}-${i}`);
        return timeShell(`mkdir -p ${dir} && umoci raw unpack --image ${image}:latest ${dir}/rootfs >/dev/null && cd ${dir}/rootfs && find . | LC_ALL=C sort | cpio -o -H newc --quiet | ${peerCompressor} > ${dir}/initramfs && rm -rf ${dir}`);
      }));
      const ours = median(Array.from({ length: RUNS }, (_, i) =>
        timeShell(`${root}/bin/hyperbuild build oci:${image}:latest -o ${work}/hb-${compression}-${i} --compression ${compression} --cache-dir ${work}/cache-${compression}-${i} --json >/dev/null`, kernelEnv),
      ));
      const noop = median(Array.from({ length: RUNS }, () =>
        timeShell(`${root}/bin/hyperbuild build oci:${image}:latest -o ${work}/hb-${compression}-0 --compression ${compression} --cache-dir ${work}/cache-${compression}-0 --json >/dev/null`, kernelEnv),
      ));
      lines.push(row([`umoci + GNU cpio + ${peerCompressor}`, peer, 1]));
      lines.push(row([`hyperbuild build --compression ${compression} (cold)`, ours, ours / peer]));
      lines.push(row([`hyperbuild build, no-op rebuild`, noop, noop / peer]));
      lines.push(`speed-up cold (${compression}): ${(peer / ours).toFixed(2)}x`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return lines;
}
