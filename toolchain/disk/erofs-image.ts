/**
 * EROFS image writer. erofs-utils 1.5 (Debian 12) builds only from a
 * directory, so the tree is unpacked by GNU tar into a private staging
 * directory and mkfs.erofs reads that. Both run in one shell so that, when
 * we are not root, one `fakeroot` session carries the owners and device
 * nodes from tar to mkfs.erofs without touching the host.
 *
 * Measured limit (fakeroot 1.31): setting xattrs under fakeroot corrupts the
 * file type it reports, and mkfs.erofs then fails with EINVAL. So a
 * non-root build of a tree with xattrs is refused with a pointer to ext4,
 * which needs no privileges at all.
 */
import { BadInputError } from '../errors/errors.ts';
import { displayPath } from '../paths/byte-string.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';
import { runDiskTool } from './disk-tool.ts';
import { DISK_UUID, buildTime } from './reproducible-fields.ts';
import { treeAsTar } from './tree-tar.ts';

const STAGE_AND_MKFS = [
  'set -e',
  // -p/--same-owner/--numeric-owner: exact modes and numeric owners; --xattrs-include: every namespace, not just user.*.
  'tar -x -p --same-owner --numeric-owner --xattrs --xattrs-include="*" -f - -C "$1"',
  'mkfs.erofs --quiet -U "$3" "$2" "$1" >/dev/null',
].join('\n');

function firstXattrPath(tree: RootfsTree): string | undefined {
  for (const { path, node } of tree.walk()) if (node.inode.xattrs.size > 0) return path === '' ? '/' : `/${displayPath(path)}`;
  return undefined;
}

export async function writeErofsImage(tree: RootfsTree, outPath: string, stagingDir: string, sourceDateEpoch: number | undefined): Promise<void> {
  const root = process.geteuid?.() === 0;
  if (!root) {
    const withXattrs = firstXattrPath(tree);
    if (withXattrs !== undefined) {
      throw new BadInputError(`--rootfs erofs without root cannot keep extended attributes (first one on ${withXattrs})`, {
        hint: 'use --rootfs ext4 (built without privileges, xattrs included) or build as root',
      });
    }
  }
  const shell = ['sh', '-c', STAGE_AND_MKFS, 'hb-erofs', stagingDir, outPath, DISK_UUID];
  await runDiskTool({
    command: root ? shell[0] : 'fakeroot',
    args: root ? shell.slice(1) : ['--', ...shell],
    debianPackage: root ? 'erofs-utils' : 'fakeroot',
    // mkfs.erofs uses this as the build time and clamps newer mtimes to it (nothing is newer: buildTime is the newest or SDE).
    env: { SOURCE_DATE_EPOCH: String(buildTime(tree, sourceDateEpoch)) },
    stdin: treeAsTar(tree, sourceDateEpoch),
  });
}
