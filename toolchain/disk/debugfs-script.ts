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
import { closeSync, openSync, writeSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeMode } from '../cpio/file-mode.ts';
import { BadInputError } from '../errors/errors.ts';
import { displayPath, type ByteString } from '../paths/byte-string.ts';
import { ContentReader } from '../tree/content.ts';
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
  const scriptPath = join(workDir, 'debugfs.script');
  const script = new ScriptBuilder(workDir, sourceDateEpoch, createdAt, scriptPath);
  await writeFile(script.emptyFile, '');
  for (const { node } of tree.walk()) if (!node.children) script.countLink(node.inode);

  const hasLostAndFound = tree.root.children!.get(LOST_AND_FOUND);
  if (!hasLostAndFound?.children) script.lines.push(`rmdir /${LOST_AND_FOUND}`);
  try {
    // Pass 1: every name; non-directories get their fields at once.
    for (const { path, node } of tree.walk()) {
      if (path !== '') await script.createName(path, node.inode, Boolean(node.children));
    }
    // Pass 2: directories, by absolute path, after all their children exist.
    for (const { path, node } of tree.walk()) {
      if (node.children) await script.setFields(quote(abs(path), 'path'), node.inode, true);
    }
  } finally {
    script.reader.close();
    script.lines.close();
  }
  return { path: scriptPath, files: script.fileCount };
}

/** The script's lines, written to its file a batch at a time, so a tree of any size costs no more memory than a batch. */
class ScriptLines {
  private readonly fd: number;
  private batch: ByteString[] = [];

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  push(line: ByteString): void {
    this.batch.push(line);
    if (this.batch.length >= 4096) this.flush();
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const bytes = Buffer.from(this.batch.join('\n') + '\n', 'latin1');
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done, bytes.length - done);
    this.batch = [];
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

/** The script being written, and what it has already staged in the work directory. */
class ScriptBuilder {
  readonly lines: ScriptLines;
  readonly emptyFile: string;
  fileCount = 0;
  private readonly firstPath = new Map<Inode, ByteString>();
  private readonly links = new Map<Inode, number>();
  private readonly xattrFiles = new Map<string, string>();
  private cwd: ByteString | null = null;
  /** File contents are copied to the staged files in bounded chunks, from memory or a spill file. */
  readonly reader = new ContentReader();

  constructor(private readonly workDir: string, private readonly sourceDateEpoch: number | undefined, private readonly createdAt: number, scriptPath: string) {
    this.emptyFile = join(workDir, 'empty');
    this.lines = new ScriptLines(scriptPath);
  }

  countLink(inode: Inode): void {
    this.links.set(inode, (this.links.get(inode) ?? 0) + 1);
  }

  /**
   * Create the name `path`, looked up relative to the parent we are in (one
   * directory scan, not one per component): a directory, a hard link to an
   * inode already created, or a new inode with its fields.
   */
  async createName(path: ByteString, inode: Inode, isDir: boolean): Promise<void> {
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? '' : path.slice(0, slash);
    const name = path.slice(slash + 1);
    if (parent !== this.cwd) {
      this.lines.push(`cd ${quote(abs(parent), 'path')}`);
      this.cwd = parent;
    }
    if (isDir) {
      if (path !== LOST_AND_FOUND) this.lines.push(`mkdir ${quote(name, 'path')}`);
      return;
    }
    const first = this.firstPath.get(inode);
    if (first !== undefined) {
      this.lines.push(`ln ${quote(abs(first), 'path')} ${quote(name, 'path')}`);
      return;
    }
    this.firstPath.set(inode, path);
    await this.createInode(path, name, inode);
    // './' keeps a name like '<12>' from being read as an inode number.
    await this.setFields(quote(`./${name}`, 'path'), inode, false);
  }

  /** The command that makes a non-directory inode named `name` in the current directory. */
  private async createInode(path: ByteString, name: ByteString, inode: Inode): Promise<void> {
    const target = quote(name, 'path');
    switch (inode.kind) {
      case 'file': {
        let source = this.emptyFile;
        if (inode.size > 0) {
          source = join(this.workDir, `f${this.fileCount}`);
          this.reader.copyToFile(inode, source);
        }
        this.fileCount++;
        this.lines.push(`write ${quote(source, 'temp file')} ${target}`);
        return;
      }
      case 'symlink':
        if (inode.target === '') throw new BadInputError(`symlink '${displayPath(path)}' has an empty target, which Linux cannot create`);
        this.lines.push(`symlink ${target} ${quote(inode.target, 'symlink target')}`);
        return;
      case 'chardev':
      case 'blockdev':
        this.lines.push(`mknod ${target} ${inode.kind === 'chardev' ? 'c' : 'b'} ${inode.devmajor} ${inode.devminor}`);
        return;
      case 'fifo':
        this.lines.push(`mknod ${target} p`);
        return;
      case 'directory':
        throw new Error(`directory inode without children at ${displayPath(path)}`);
    }
  }

  /**
   * Inode fields by `target` (a quoted path). Only what differs from what
   * debugfs created is set: each `sif` costs a path lookup and an inode
   * write, and they dominate the run time. atime/ctime/crtime stay at
   * `createdAt` (a layer has no source for them; this keeps them
   * reproducible); mtime is the file's own.
   */
  async setFields(target: ByteString, inode: Inode, isDir: boolean): Promise<void> {
    const set = (field: string, value: string | number) => this.lines.push(`sif ${target} ${field} ${value}`);
    // mkfs makes lost+found 0700, not debugfs's 0755 default.
    // Symlinks keep debugfs's 0777: Linux creates every symlink so (the initramfs unpacker too), whatever the layer said.
    if (inode.kind !== 'symlink' && (CREATED_MODE[inode.kind] !== inode.mode || target === `"/${LOST_AND_FOUND}"`)) set('mode', `0${makeMode(inode.kind, inode.mode).toString(8)}`);
    if (inode.uid !== 0) set('uid', inode.uid);
    if (inode.gid !== 0) set('gid', inode.gid);
    const mtime = clampTime(inode.mtime, this.sourceDateEpoch);
    if (mtime !== this.createdAt) set('mtime', `@${mtime}`);
    const count = this.links.get(inode) ?? 1;
    if (!isDir && count > 1) set('links_count', count);
    for (const [name, value] of inode.xattrs) {
      this.lines.push(`ea_set -f ${quote(await this.xattrFile(value), 'temp file')} ${target} ${quote(name, 'xattr name')}`);
    }
  }

  /** A file holding `value`, one per distinct value. */
  private async xattrFile(value: Buffer): Promise<string> {
    const key = value.toString('hex');
    let file = this.xattrFiles.get(key);
    if (file === undefined) {
      file = join(this.workDir, `x${this.xattrFiles.size}`);
      await writeFile(file, value);
      this.xattrFiles.set(key, file);
    }
    return file;
  }
}
