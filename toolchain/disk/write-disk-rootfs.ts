/**
 * Disk root filesystems, for images too big to unpack into RAM as an
 * initramfs. Same tree, same guarantees as the initramfs: numeric owners,
 * modes with setuid/setgid/sticky, devices, FIFOs, hardlinks, symlinks,
 * binary xattrs, mtimes (clamped to SOURCE_DATE_EPOCH), byte-reproducible.
 * The guest mounts it read-only with a tmpfs overlay (HyperStart `rootdisk`).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileDigest } from '../digest/file-digest.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';
import { writeErofsImage } from './erofs-image.ts';
import { writeExt4Image } from './ext4-image.ts';

export type DiskRootfsKind = 'ext4' | 'erofs';

export interface DiskRootfsOptions {
  sourceDateEpoch?: number;
  /** Where private scratch space (content files, staging) is made; removed afterwards. */
  tmpDir: string;
}

export async function writeDiskRootfs(
  tree: RootfsTree,
  kind: DiskRootfsKind,
  outPath: string,
  opts: DiskRootfsOptions,
): Promise<{ digest: string; size: number }> {
  // The tools write into an existing file rather than replace it: start from nothing.
  await rm(outPath, { force: true });
  await mkdir(opts.tmpDir, { recursive: true });
  // mkdtemp makes it 0700: staged setuid files and devices are reachable by no other user.
  const work = await mkdtemp(join(opts.tmpDir, `hb-${kind}-`));
  try {
    if (kind === 'ext4') await writeExt4Image(tree, outPath, work, opts.sourceDateEpoch);
    else await writeErofsImage(tree, outPath, work, opts.sourceDateEpoch);
  } catch (err) {
    await rm(outPath, { force: true });
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return fileDigest(outPath);
}
