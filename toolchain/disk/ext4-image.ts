/**
 * ext4 image writer: mkfs.ext4 makes an empty, reproducible filesystem of
 * the size ext4Geometry computes, then one debugfs run fills it from a
 * script (debugfs-script.ts). See README.md for why not `mkfs.ext4 -d`.
 */
import { open, rm } from 'node:fs/promises';
import { HyperbuildError } from '../errors/errors.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';
import { writeDebugfsScript } from './debugfs-script.ts';
import { runDiskTool } from './disk-tool.ts';
import { EXT4_BLOCK_SIZE, EXT4_INODE_SIZE, ext4Geometry } from './ext4-size.ts';
import { DISK_UUID, EXT4_HASH_SEED, buildTime } from './reproducible-fields.ts';

const E2FSPROGS = 'e2fsprogs';

/** debugfs's banner; every other stderr line is a failed command. */
const DEBUGFS_BANNER = /^debugfs \d+\.\d+/;

export async function writeExt4Image(tree: RootfsTree, outPath: string, workDir: string, sourceDateEpoch: number | undefined): Promise<void> {
  // e2fsprogs' test hook: superblock times and the times of every new inode come from here instead of the clock.
  const createdAt = buildTime(tree, sourceDateEpoch);
  const env = { E2FSPROGS_FAKE_TIME: String(createdAt) };
  const script = await writeDebugfsScript(tree, workDir, sourceDateEpoch, createdAt);
  // A generous second attempt covers an estimate that came out short; the
  // retry depends only on the tree, so the result stays reproducible.
  for (const factor of [1, 2]) {
    const geometry = ext4Geometry(tree, factor);
    await rm(outPath, { force: true });
    const file = await open(outPath, 'w');
    await file.truncate(geometry.bytes);
    await file.close();
    await runDiskTool({
      command: 'mkfs.ext4',
      debianPackage: E2FSPROGS,
      env,
      args: [
        '-q', '-F', '-t', 'ext4',
        '-b', String(EXT4_BLOCK_SIZE), '-I', String(EXT4_INODE_SIZE), '-N', String(geometry.inodes), '-m', '0',
        // The guest mounts it read-only under an overlay: no journal to replay, no growth.
        '-O', 'extent,huge_file,flex_bg,64bit,dir_nlink,extra_isize,^has_journal,^resize_inode',
        '-U', DISK_UUID,
        '-E', `hash_seed=${EXT4_HASH_SEED},lazy_itable_init=0,lazy_journal_init=0,nodiscard,root_owner=0:0`,
        outPath,
      ],
    });
    const { stderr } = await runDiskTool({ command: 'debugfs', debianPackage: E2FSPROGS, env, args: ['-w', '-f', script.path, outPath] });
    const failures = stderr.split('\n').filter((l) => l.trim() !== '' && !DEBUGFS_BANNER.test(l));
    if (failures.length === 0) return;
    const full = failures.some((l) => /Could not allocate|No free space|no space|ENOSPC/i.test(l));
    if (full && factor === 1) continue;
    throw new HyperbuildError(`debugfs could not build the ext4 root filesystem: ${failures.slice(0, 5).join(' / ')}`);
  }
}
