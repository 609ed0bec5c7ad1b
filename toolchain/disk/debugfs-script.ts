/**
 * The tree as a debugfs command script that fills an empty ext4 image with
 * every inode field set explicitly: type, permission bits (setuid, sticky),
 * numeric owners, device numbers, hardlink counts, binary xattrs and all four
 * timestamps. Nothing goes through the host's filesystem except file content
 * (one temp file per inode, which `write` copies in) and xattr values, so no
 * root, no fakeroot and no host ctime leaks into the image.
 *
 * Pass 1 creates names (cd into the parent, create by base name) and sets
 * the fields of non-directories; pass 2 sets directories' fields, after
 * every child exists, so creating a child cannot touch them afterwards.
 *
 * debugfs's command parser (libss) splits on blanks, takes "..." quoting with
 * "" for a literal quote, and ends a command at CR or LF: names holding CR or
 * LF cannot be expressed and are refused.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeMode } from '../cpio/file-mode.ts';
import { BadInputError } from '../errors/errors.ts';
import { displayPath, type ByteString } from '../paths/byte-string.ts';
import type { Inode } from '../tree/inode.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';
import { clampTime } from './reproducible-fields.ts';

/** mkfs.ext4 always creates this directory; the script reuses it or removes it. */
const LOST_AND_FOUND = 'lost+found';

function quote(s: ByteString, what: string): ByteString {
  if (/[\r\n]/.test(s)) {
    throw new BadInputError(`${what} '${displayPath(s)}' contains a line break, which an ext4 disk rootfs cannot be built with`, {
      hint: 'use --rootfs erofs or the initramfs for this image',
    });
  }
  return `"${s.replaceAll('"', '""')}"`;
}

const abs = (path: ByteString) => `/${path}`;

export interface DebugfsScript {
  path: string;
  /** Regular-file inodes whose content was staged (for progress/size reports). */
  files: number;
}

/** debugfs's defaults for a new inode, so the script only sets what differs. */
const CREATED_MODE: Partial<Record<Inode['kind'], number>> = { directory: 0o755, symlink: 0o777 };

/**
 * Writes the script and the content/xattr files it reads into `workDir`.
 * `createdAt` is E2FSPROGS_FAKE_TIME of the debugfs run: every new inode
 * gets it as atime, ctime, mtime and crtime.
 */
export async function writeDebugfsScript(tree: RootfsTree, workDir: string, sourceDateEpoch: number | undefined, createdAt: number): Promise<DebugfsScript> {
  const lines: ByteString[] = [];
  const firstPath = new Map<Inode, ByteString>();
  const links = new Map<Inode, number>();
  const xattrFiles = new Map<string, string>();
  let fileCount = 0;
  let cwd: ByteString | null = null;

  const emptyFile = join(workDir, 'empty');
  await writeFile(emptyFile, '');
  for (const { node } of tree.walk()) if (!node.children) links.set(node.inode, (links.get(node.inode) ?? 0) + 1);

  /**
   * Inode fields by `target` (a quoted path). Only what differs from what
   * debugfs created is set: each `sif` costs a path lookup and an inode
   * write, and they dominate the run time. atime/ctime/crtime stay at
   * `createdAt` (a layer has no source for them; this keeps them
   * reproducible); mtime is the file's own.
   */
  const metadata = async (target: ByteString, inode: Inode, isDir: boolean) => {
    const set = (field: string, value: string | number) => lines.push(`sif ${target} ${field} ${value}`);
    // mkfs makes lost+found 0700, not debugfs's 0755 default.
    // Symlinks keep debugfs's 0777: Linux creates every symlink so (the initramfs unpacker too), whatever the layer said.
    if (inode.kind !== 'symlink' && (CREATED_MODE[inode.kind] !== inode.mode || target === `"/${LOST_AND_FOUND}"`)) set('mode', `0${makeMode(inode.kind, inode.mode).toString(8)}`);
    if (inode.uid !== 0) set('uid', inode.uid);
    if (inode.gid !== 0) set('gid', inode.gid);
    const mtime = clampTime(inode.mtime, sourceDateEpoch);
    if (mtime !== createdAt) set('mtime', `@${mtime}`);
    const count = links.get(inode) ?? 1;
    if (!isDir && count > 1) set('links_count', count);
    for (const [name, value] of inode.xattrs) {
      const key = value.toString('hex');
      let file = xattrFiles.get(key);
      if (file === undefined) {
        file = join(workDir, `x${xattrFiles.size}`);
        await writeFile(file, value);
        xattrFiles.set(key, file);
      }
      lines.push(`ea_set -f ${quote(file, 'temp file')} ${target} ${quote(name, 'xattr name')}`);
    }
  };

  const hasLostAndFound = tree.root.children!.get(LOST_AND_FOUND);
  if (!hasLostAndFound?.children) lines.push(`rmdir /${LOST_AND_FOUND}`);

  // Pass 1: every name; non-directories get their fields at once, looked up
  // relative to the parent we are in (one directory scan, not one per component).
  for (const { path, node } of tree.walk()) {
    if (path === '') continue;
    const inode = node.inode;
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    const name = path.slice(slash + 1);
    const what = 'path';
    if (parent !== cwd) {
      lines.push(`cd ${quote(abs(parent), what)}`);
      cwd = parent;
    }
    if (node.children) {
      if (path !== LOST_AND_FOUND) lines.push(`mkdir ${quote(name, what)}`);
      continue;
    }
    const first = firstPath.get(inode);
    if (first !== undefined) {
      lines.push(`ln ${quote(abs(first), what)} ${quote(name, what)}`);
      continue;
    }
    firstPath.set(inode, path);
    switch (inode.kind) {
      case 'file': {
        let source = emptyFile;
        if (inode.size > 0) {
          source = join(workDir, `f${fileCount}`);
          await writeFile(source, inode.content);
        }
        fileCount++;
        lines.push(`write ${quote(source, 'temp file')} ${quote(name, what)}`);
        break;
      }
      case 'symlink':
        if (inode.target === '') throw new BadInputError(`symlink '${displayPath(path)}' has an empty target, which Linux cannot create`);
        lines.push(`symlink ${quote(name, what)} ${quote(inode.target, 'symlink target')}`);
        break;
      case 'chardev':
        lines.push(`mknod ${quote(name, what)} c ${inode.devmajor} ${inode.devminor}`);
        break;
      case 'blockdev':
        lines.push(`mknod ${quote(name, what)} b ${inode.devmajor} ${inode.devminor}`);
        break;
      case 'fifo':
        lines.push(`mknod ${quote(name, what)} p`);
        break;
      case 'directory':
        throw new Error(`directory inode without children at ${displayPath(path)}`);
    }
    // './' keeps a name like '<12>' from being read as an inode number.
    await metadata(quote(`./${name}`, what), inode, false);
  }

  // Pass 2: directories, by absolute path, after all their children exist.
  for (const { path, node } of tree.walk()) {
    if (node.children) await metadata(quote(abs(path), 'path'), node.inode, true);
  }

  const scriptPath = join(workDir, 'debugfs.script');
  await writeFile(scriptPath, Buffer.from(lines.join('\n') + '\n', 'latin1'));
  return { path: scriptPath, files: fileCount };
}
