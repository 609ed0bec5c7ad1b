import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeTar, type TarWriteMember } from '../toolchain/tar/writer.ts';
import { readTar } from '../toolchain/tar/reader.ts';
import { applyLayer } from '../toolchain/tree/apply-layer.ts';
import { RootfsTree, pathComponents } from '../toolchain/tree/rootfs-tree.ts';
import { rejectsBadInput } from './helpers/bad-input.ts';

type M = TarWriteMember;
const dir = (path: string, extra: Partial<M['entry']> = {}): M => ({ entry: { path, type: 'directory', mode: 0o755, ...extra } });
const file = (path: string, data: string, extra: Partial<M['entry']> = {}): M => ({ entry: { path, type: 'file', mode: 0o644, ...extra }, data: Buffer.from(data) });
const link = (path: string, linkname: string): M => ({ entry: { path, type: 'hardlink', linkname } });
const sym = (path: string, linkname: string): M => ({ entry: { path, type: 'symlink', linkname } });

async function* once(b: Buffer) {
  yield b;
}

async function build(...layers: M[][]): Promise<RootfsTree> {
  const tree = new RootfsTree();
  const limits = { maxBytes: 1 << 30, bytesSoFar: 0 };
  for (let i = 0; i < layers.length; i++) await applyLayer(tree, readTar(once(encodeTar(layers[i])), `layer ${i}`), i, `layer ${i}`, limits);
  return tree;
}

const paths = (t: RootfsTree) => [...t.walk()].map((w) => w.path).filter(Boolean);
const content = (t: RootfsTree, p: string) => {
  const n = t.lookup(pathComponents(p, 't'), 't');
  return n ? Buffer.concat(n.inode.content).toString() : undefined;
};


test('whiteout removes a lower file, opaque dir hides lower children only', async () => {
  const t = await build(
    [dir('etc'), file('etc/a', '1'), file('etc/b', '2'), dir('d'), file('d/old', 'x'), dir('d/sub'), file('d/sub/deep', 'y')],
    [file('etc/.wh.a', ''), file('d/.wh..wh..opq', ''), file('d/new', 'z')],
  );
  assert.equal(paths(t), ['d', 'd/new', 'etc', 'etc/b']);
});

test('a whiteout does not hide a file of its own layer', async () => {
  const t = await build([dir('x')], [file('x/f', 'same layer'), file('x/.wh.f', '')]);
  assert.is(content(t, 'x/f'), 'same layer');
});

test('type changes: file replaces a directory tree, directory replaces a file', async () => {
  const t = await build([dir('a'), file('a/inner', '1'), file('b', 'file')], [file('a', 'now a file'), dir('b'), file('b/c', 'c')]);
  assert.equal(paths(t), ['a', 'b', 'b/c']);
  assert.is(content(t, 'a'), 'now a file');
});

test('re-declaring a directory keeps its children and takes the new metadata', async () => {
  const t = await build([dir('d', { mode: 0o700 }), file('d/f', '1')], [dir('d', { mode: 0o755, uid: 5 })]);
  const d = t.lookup(['d'], 't')!;
  assert.is(d.inode.mode, 0o755);
  assert.is(d.inode.uid, 5);
  assert.equal(paths(t), ['d', 'd/f']);
});

test('hardlink to a lower layer keeps its content when the target is replaced later', async () => {
  const t = await build([file('orig', 'v1')], [link('alias', 'orig')], [file('orig', 'v2')]);
  assert.is(content(t, 'alias'), 'v1');
  assert.is(content(t, 'orig'), 'v2');
  const a = t.lookup(['alias'], 't')!;
  assert.is.not(a.inode, t.lookup(['orig'], 't')!.inode);
});

test('hardlinks within a layer share one inode', async () => {
  const t = await build([file('a', 'data'), link('b', 'a'), link('./c', '/a')]);
  const ino = t.lookup(['a'], 't')!.inode;
  assert.is(t.lookup(['b'], 't')!.inode, ino);
  assert.is(t.lookup(['c'], 't')!.inode, ino);
});

test('symlinks are kept verbatim; parents through symlinks resolve inside the rootfs', async () => {
  const t = await build([dir('usr'), dir('usr/lib'), sym('lib', '/usr/lib'), sym('escape', '../../../../etc')], [file('lib/x.so', 'so'), file('escape/passwd', 'inside')]);
  assert.is(t.lookup(['lib'], 't')!.inode.target, '/usr/lib');
  assert.is(content(t, 'usr/lib/x.so'), 'so');
  // `../../..` stops at the tree's root: the write lands in the rootfs's own /etc.
  assert.is(content(t, 'etc/passwd'), 'inside');
});

test('absolute and ./ names land inside the rootfs', async () => {
  const t = await build([file('/abs', '1'), file('./dot/x', '2'), file('a/./b/../c', '3')]);
  assert.equal(paths(t), ['a', 'a/c', 'abs', 'dot', 'dot/x']);
});

test('hostile: .. escaping the root is refused with the entry named', async () => {
  await rejectsBadInput(() => build([file('../../etc/passwd', 'x')]), /layer 0 entry '\.\.\/\.\.\/etc\/passwd'.*climbs out/);
});

test('hostile: hardlink to a missing target or a directory is refused', async () => {
  await rejectsBadInput(() => build([link('l', '/etc/shadow')]), /hardlink target '\/etc\/shadow' does not exist/);
  await rejectsBadInput(() => build([dir('d'), link('l', 'd')]), /is a directory/);
  await rejectsBadInput(() => build([file('f', 'x'), link('l', '../../f')]), /climbs out/);
});

test('hostile: the reserved /.hyperstart cannot come from an image', async () => {
  await rejectsBadInput(() => build([file('.hyperstart/init', 'evil')]), /reserved/);
});

test('hostile: a root file named TRAILER!!! is refused (it would end the initramfs)', async () => {
  await rejectsBadInput(() => build([file('TRAILER!!!', 'x')]), /TRAILER!!! would end the initramfs early/);
});

test('hostile: a path through a regular file is refused', async () => {
  await rejectsBadInput(() => build([file('f', 'x'), file('f/g', 'y')]), /'f' on its path is a file, not a directory/);
});

test('hostile: symlink loops are bounded', async () => {
  await rejectsBadInput(() => build([sym('a', 'b'), sym('b', 'a'), file('a/x', '1')]), /too many levels of symbolic links/);
});

test('decompression bombs: total bytes are bounded', async () => {
  const tree = new RootfsTree();
  const big = Buffer.alloc(4096);
  const layer = encodeTar([{ entry: { path: 'a', type: 'file' }, data: big }, { entry: { path: 'b', type: 'file' }, data: big }]);
  await rejectsBadInput(() => applyLayer(tree, readTar(once(layer), 'L'), 0, 'L', { maxBytes: 6000, bytesSoFar: 0 }), /max-rootfs-size \(6000 bytes\) at L entry 'b'/);
});

test('non-UTF-8 names survive byte for byte and sort bytewise', async () => {
  const t = await build([file('\xff\xfe', 'latin'), file('a', '1'), file('\xc3\xa9', 'utf8')]);
  assert.equal(paths(t), ['a', '\xc3\xa9', '\xff\xfe']);
});

test.run();
