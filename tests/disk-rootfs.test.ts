/**
 * Disk root filesystems: a tree with every kind of node and field goes into
 * ext4 and erofs images; the images must pass fsck, read back identically
 * (loop-mounted read-only when we are root, debugfs otherwise) and be
 * byte-identical across two writes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { encodeTar, type TarWriteMember } from '../toolchain/tar/writer.ts';
import { readTar } from '../toolchain/tar/reader.ts';
import { applyLayer } from '../toolchain/tree/apply-layer.ts';
import { RootfsTree } from '../toolchain/tree/rootfs-tree.ts';
import { writeDiskRootfs, type DiskRootfsKind } from '../toolchain/disk/write-disk-rootfs.ts';
import { fileDigest } from '../toolchain/digest/file-digest.ts';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { tempDir } from './helpers/places.ts';

type M = TarWriteMember;
const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex');
const BIG = Buffer.alloc(3 * 1024 * 1024 + 17, 0xa5);
const LONG_TARGET = 'x/'.repeat(60) + 'target';
const ODD = 'odd "name" <12> \xff\xfe';

function layer(): M[] {
  return [
    { entry: { path: './', type: 'directory', mode: 0o755, mtime: 1111 } },
    { entry: { path: 'bin', type: 'directory', mode: 0o755, mtime: 2222 } },
    { entry: { path: 'bin/ping', type: 'file', mode: 0o4755, mtime: 3333, xattrs: new Map([['security.capability', CAP], ['user.bin', Buffer.from([0, 1, 2, 255])]]) }, data: Buffer.from('ping') },
    { entry: { path: 'bin/ping2', type: 'hardlink', linkname: 'bin/ping' } },
    { entry: { path: 'bin/ping3', type: 'hardlink', linkname: 'bin/ping' } },
    { entry: { path: 'bin/sh', type: 'symlink', linkname: 'ping', mtime: 4444, uid: 5, gid: 6 } },
    { entry: { path: 'bin/long', type: 'symlink', linkname: LONG_TARGET, mtime: 4445 } },
    { entry: { path: 'bin/sgid', type: 'file', mode: 0o2711, uid: 70000, gid: 80000, mtime: 4446 }, data: Buffer.from('sgid') },
    { entry: { path: 'dev', type: 'directory', mode: 0o755, mtime: 5555 } },
    { entry: { path: 'dev/null', type: 'chardev', mode: 0o666, devmajor: 1, devminor: 3, mtime: 6666 } },
    { entry: { path: 'dev/sda', type: 'blockdev', mode: 0o660, gid: 6, devmajor: 8, devminor: 0, mtime: 6667 } },
    { entry: { path: 'dev/fifo', type: 'fifo', mode: 0o600, uid: 1000, gid: 1000, mtime: 7777 } },
    { entry: { path: 'tmp', type: 'directory', mode: 0o1777, mtime: 8888, uid: 1234, gid: 4321 } },
    { entry: { path: 'data', type: 'directory', mode: 0o750, mtime: 9999 } },
    { entry: { path: 'data/big', type: 'file', mode: 0o600, mtime: 10000 }, data: BIG },
    { entry: { path: 'data/empty', type: 'file', mode: 0o444, mtime: 10001 } },
    { entry: { path: `data/${ODD}`, type: 'file', mode: 0o644, mtime: 10002 }, data: Buffer.from('odd') },
    { entry: { path: 'data/new', type: 'file', mode: 0o644, mtime: 2_000_000_000 }, data: Buffer.from('clamped') },
  ];
}

async function* once(b: Buffer) {
  yield b;
}

async function buildTree(): Promise<RootfsTree> {
  const tree = new RootfsTree();
  await applyLayer(tree, readTar(once(encodeTar(layer())), 'disk test'), 0, 'disk test', { maxBytes: 1 << 30, bytesSoFar: 0 });
  return tree;
}

const SDE = 1_900_000_000;
const isRoot = process.getuid?.() === 0;
const work = tempDir('disk-test');

interface Seen {
  mode: number;
  uid: number;
  gid: number;
  nlink?: number;
  mtime: number;
  rdev?: string;
  target?: string;
  content?: string;
}

/** What the tree says each path must look like, by byte-string path. */
function expected(): Map<string, Seen> {
  const dirN = (mode: number, mtime: number, uid = 0, gid = 0): Seen => ({ mode: 0o040000 | mode, uid, gid, mtime });
  const m = new Map<string, Seen>([
    ['', dirN(0o755, 1111)],
    ['bin', dirN(0o755, 2222)],
    ['bin/ping', { mode: 0o104755, uid: 0, gid: 0, nlink: 3, mtime: 3333, content: 'ping' }],
    ['bin/ping2', { mode: 0o104755, uid: 0, gid: 0, nlink: 3, mtime: 3333, content: 'ping' }],
    ['bin/ping3', { mode: 0o104755, uid: 0, gid: 0, nlink: 3, mtime: 3333, content: 'ping' }],
    ['bin/sh', { mode: 0o120000, uid: 5, gid: 6, mtime: 4444, target: 'ping' }],
    ['bin/long', { mode: 0o120000, uid: 0, gid: 0, mtime: 4445, target: LONG_TARGET }],
    ['bin/sgid', { mode: 0o102711, uid: 70000, gid: 80000, nlink: 1, mtime: 4446, content: 'sgid' }],
    ['dev', dirN(0o755, 5555)],
    ['dev/null', { mode: 0o020666, uid: 0, gid: 0, mtime: 6666, rdev: '1:3' }],
    ['dev/sda', { mode: 0o060660, uid: 0, gid: 6, mtime: 6667, rdev: '8:0' }],
    ['dev/fifo', { mode: 0o010600, uid: 1000, gid: 1000, mtime: 7777 }],
    ['tmp', dirN(0o1777, 8888, 1234, 4321)],
    ['data', dirN(0o750, 9999)],
    ['data/big', { mode: 0o100600, uid: 0, gid: 0, nlink: 1, mtime: 10000, content: BIG.toString('latin1') }],
    ['data/empty', { mode: 0o100444, uid: 0, gid: 0, nlink: 1, mtime: 10001, content: '' }],
    [`data/${ODD}`, { mode: 0o100644, uid: 0, gid: 0, nlink: 1, mtime: 10002, content: 'odd' }],
    ['data/new', { mode: 0o100644, uid: 0, gid: 0, nlink: 1, mtime: SDE, content: 'clamped' }],
  ]);
  return m;
}

/** Walk a mounted image; names as byte strings. */
function readMounted(mnt: string, kind: DiskRootfsKind): Map<string, Seen> {
  const out = new Map<string, Seen>();
  const visit = (rel: string) => {
    const host = Buffer.from(join(mnt, rel), 'latin1');
    const st = lstatSync(host, { bigint: false });
    const seen: Seen = { mode: st.mode, uid: st.uid, gid: st.gid, mtime: Math.trunc(st.mtimeMs / 1000) };
    if (st.isSymbolicLink()) {
      seen.mode = 0o120000; // symlink permission bits mean nothing on Linux
      seen.target = (readlinkSync(host, { encoding: 'buffer' }) as Buffer).toString('latin1');
    } else if (st.isCharacterDevice() || st.isBlockDevice()) seen.rdev = `${Math.floor(st.rdev / 256)}:${st.rdev % 256}`;
    else if (st.isFile()) {
      seen.nlink = st.nlink;
      seen.content = readFileSync(host).toString('latin1');
    }
    out.set(rel, seen);
    if (st.isDirectory()) {
      for (const name of readdirSync(host, { encoding: 'buffer' }) as Buffer[]) {
        const n = name.toString('latin1');
        if (kind === 'ext4' && rel === '' && n === 'lost+found') continue;
        visit(rel ? `${rel}/${n}` : n);
      }
    }
  };
  visit('');
  return out;
}

function xattrsOf(path: string): string {
  return execFileSync('getfattr', ['-d', '-m', '-', '-e', 'hex', '--absolute-names', path]).toString().split('\n').slice(1).join('\n').trim();
}

/** Without root, erofs is staged under fakeroot, which cannot carry xattrs (see toolchain/disk/README.md). */
const erofsWithoutXattrs = !isRoot;

async function treeFor(kind: DiskRootfsKind): Promise<RootfsTree> {
  const tree = await buildTree();
  if (kind === 'erofs' && erofsWithoutXattrs) for (const { node } of tree.walk()) node.inode.xattrs = new Map();
  return tree;
}

test('erofs without root refuses a tree with xattrs, naming the file', async () => {
  if (isRoot) return;
  try {
    await writeDiskRootfs(await buildTree(), 'erofs', join(work, 'refused.erofs'), { tmpDir: join(work, 'tmp') });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.match((err as Error).message, /cannot keep extended attributes \(first one on \/bin\/ping\)/);
  }
});

for (const kind of ['ext4', 'erofs'] as const) {
  test(`${kind}: fsck passes, reads back exactly, two writes are byte-identical`, async () => {
    const a = join(work, `a.${kind}`);
    const b = join(work, `b.${kind}`);
    const first = await writeDiskRootfs(await treeFor(kind), kind, a, { sourceDateEpoch: SDE, tmpDir: join(work, 'tmp') });
    const second = await writeDiskRootfs(await treeFor(kind), kind, b, { sourceDateEpoch: SDE, tmpDir: join(work, 'tmp') });
    assert.equal(first, second, 'two writes give the same digest and size');
    assert.equal(await fileDigest(a), first);
    assert.equal(readdirSync(join(work, 'tmp')), [], 'scratch space is removed');

    if (kind === 'ext4') execFileSync('e2fsck', ['-fn', a], { stdio: 'pipe' });
    else execFileSync('fsck.erofs', [a], { stdio: 'pipe' });

    if (kind === 'ext4') {
      // No root needed: debugfs shows the fields the mount check cannot (ctime/crtime) and the raw xattr bytes.
      const stat = execFileSync('debugfs', ['-R', 'stat /bin/ping', a], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      assert.match(stat, /Mode:  04755/);
      assert.match(stat, /Links: 3/);
      assert.match(stat, /security\.capability \(20\) = 01 00 00 02 00 20 00 00/);
      assert.match(stat, /user\.bin \(4\) = 00 01 02 ff/);
      assert.match(stat, / mtime: 0x00000d05:00000000/);
      // No source for these in a layer: the build time (SOURCE_DATE_EPOCH here), never the host clock.
      for (const t of [' ctime', ' atime', 'crtime']) assert.match(stat, new RegExp(`${t}: 0x${SDE.toString(16).padStart(8, '0')}:00000000`));
      const sgid = execFileSync('debugfs', ['-R', 'stat /bin/sgid', a], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      assert.match(sgid, /User: 70000 +Group: 80000/);
      const dev = execFileSync('debugfs', ['-R', 'stat /dev/sda', a], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      assert.match(dev, /Type: block special +Mode:  0660/);
      assert.match(dev, /Device major\/minor number: 08:00/);
      const root = execFileSync('debugfs', ['-R', 'ls -l /', a], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
      assert.not.match(root, /lost\+found/, 'the tree has no lost+found, so neither has the image');
    }

    if (!isRoot) return; // loop mounts need root; fsck and debugfs above still ran
    const mnt = join(work, `mnt-${kind}`);
    mkdirSync(mnt, { recursive: true });
    execFileSync('mount', ['-o', 'loop,ro', '-t', kind, a, mnt]);
    try {
      const got = readMounted(mnt, kind);
      const want = expected();
      assert.equal([...got.keys()].sort(), [...want.keys()].sort());
      for (const [path, w] of want) assert.equal(got.get(path), w, path);
      const xattrs = xattrsOf(join(mnt, 'bin/ping'));
      assert.match(xattrs, 'security.capability=0x0100000200200000000000000000000000000000');
      assert.match(xattrs, 'user.bin=0x000102ff');
      assert.is(xattrsOf(join(mnt, 'bin/sgid')), '');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test.run();
