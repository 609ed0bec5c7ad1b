/**
 * Root filesystem kinds for the ~150 MB image: hyperbuild's build time of each
 * (initramfs, ext4, erofs) against the peer (umoci unpack + mkfs.ext4 -d /
 * mkfs.erofs on the unpacked tree), then boot time and the smallest -m that
 * boots each bundle: a disk rootfs should not need RAM for the image.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeBigImage } from './make-big-image.ts';
import { row, timeShell } from './timing.ts';

function boots(root: string, bundle: string, mib: number): { ok: boolean; seconds: number } {
  const start = process.hrtime.bigint();
  const r = spawnSync(`${root}/bin/hyperbuild`, ['boot', '-m', `${mib}`, '--network', 'none', '--timeout', '120s', bundle, '--', 'true'], { encoding: 'utf8' });
  return { ok: r.status === 0, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

function smallest(root: string, bundle: string): number | undefined {
  let lo = 16;
  let hi = 1024;
  if (!boots(root, bundle, hi).ok) return undefined;
  while (hi - lo > 8) {
    const mid = Math.round((lo + hi) / 2);
    if (boots(root, bundle, mid).ok) hi = mid;
    else lo = mid;
  }
  return hi;
}

export function rootfsBench(root: string, benchOut: string, kernelCache: string): string[] {
  const image = makeBigImage(join(benchOut, 'big'));
  const work = mkdtempSync(join(tmpdir(), 'hb-bench-rootfs-'));
  const lines = ['## root filesystem kinds: ~150 MB image, HyperKernel, TCG', row(['what', 'build s', 'boot s', 'smallest -m'])];
  try {
    timeShell(`umoci raw unpack --image ${image}:latest ${work}/tree >/dev/null`);
    const peerExt4 = timeShell(`mkfs.ext4 -q -d ${work}/tree ${work}/peer.ext4 400M`);
    const peerErofs = timeShell(`mkfs.erofs --quiet ${work}/peer.erofs ${work}/tree >/dev/null`);
    lines.push(row(['peer: mkfs.ext4 -d (tree already unpacked)', peerExt4, '', '']));
    lines.push(row(['peer: mkfs.erofs (tree already unpacked)', peerErofs, '', '']));
    for (const kind of ['initramfs', 'ext4', 'erofs']) {
      const out = join(work, kind);
      const build = timeShell(`${root}/bin/hyperbuild build oci:${image}:latest -o ${out} --rootfs ${kind} --cache-dir ${work}/cache-${kind} --kernel-cache-dir ${kernelCache} --json >/dev/null`);
      const boot = boots(root, out, 512);
      lines.push(row([`hyperbuild --rootfs ${kind}`, build, boot.ok ? boot.seconds : 'failed', `${smallest(root, out) ?? '>1024'} MiB`]));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return lines;
}
