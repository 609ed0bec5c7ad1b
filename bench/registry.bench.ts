/**
 * Registry benchmark against a real local registry (Debian's docker-registry):
 * pulling the ~150 MB benchmark image with hyperbuild's client (in-process, cold
 * cache) vs `skopeo copy docker://… oci:…`, and pushing a bundle (first push,
 * then the no-op re-push that uploads nothing).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pullImage } from '../toolchain/registry/registry-source.ts';
import { startRegistry } from '../tests/helpers/registry-server.ts';
import { makeBigImage } from './make-big-image.ts';
import { median, row, timeShell } from './timing.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);

export async function registryBench(root: string, benchOut: string, bundleDir: string): Promise<string[]> {
  const image = makeBigImage(join(benchOut, 'big'));
  const registry = await startRegistry({ kind: 'open' });
  const work = mkdtempSync(join(tmpdir(), 'hb-bench-reg-'));
  const ref = `${registry.host}/bench/big:latest`;
  const lines = ['## registry: ~150 MB, 4-layer image from a local distribution 2.8', row(['what', 'median s', 'ratio'])];
  try {
    timeShell(`skopeo copy --quiet --dest-tls-verify=false oci:${image}:latest docker://${ref}`);
    const skopeo = median(Array.from({ length: RUNS }, (_, i) => timeShell(`skopeo copy --quiet --src-tls-verify=false docker://${ref} oci:${work}/skopeo-${i}:latest`)));
    const ours: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const start = process.hrtime.bigint();
      await pullImage(ref, { cacheDir: join(work, `cache-${i}`) });
      ours.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
    lines.push(row(['skopeo copy docker:// → oci:', skopeo, 1]));
    lines.push(row(['hyperbuild pull (client, cold cache)', median(ours), median(ours) / skopeo]));
    const push = (tag: string) => timeShell(`${root}/bin/hyperbuild push ${bundleDir} ${registry.host}/bench/vm:${tag} --json >/dev/null`);
    lines.push(row(['hyperbuild push of a bundle (first)', push('1'), '']));
    lines.push(row(['hyperbuild push of the same bundle (no-op)', median(Array.from({ length: RUNS }, () => push('1'))), '']));
  } finally {
    await registry.stop();
    rmSync(work, { recursive: true, force: true });
  }
  return lines;
}
