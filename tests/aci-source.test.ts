/**
 * AciSource end to end on fixtures from fixtures/make-aci.ts (GNU tar,
 * gzip/xz/bzip2): resolve, dependency order, pathWhitelist, the config
 * mapping, and refusals; then the layers are applied to a tree.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { encodeTar, type TarWriteMember } from '../toolchain/tar/writer.ts';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { AciSource } from '../toolchain/source/aci-source.ts';
import { openImageSource } from '../toolchain/source/open-source.ts';
import type { ResolvedImage } from '../toolchain/source/image-source.ts';
import { applyLayer } from '../toolchain/tree/apply-layer.ts';
import { RootfsTree, pathComponents } from '../toolchain/tree/rootfs-tree.ts';
import { rejectsBadInput } from './helpers/bad-input.ts';
import { tempDir } from './helpers/places.ts';

const out = tempDir('aci-test');
execFileSync(process.execPath, ['--import', 'tsx', 'fixtures/make-aci.ts', out], { stdio: 'pipe' });
const deps = join(out, 'deps');
const platform = { os: 'linux', architecture: 'amd64' };
const cacheDir = join(out, 'cache');

const resolveAci = (file: string, aciPath: string[] = [deps], log?: (l: string) => void) =>
  new AciSource({ path: join(out, file), text: `aci:${file}` }, { aciPath }).resolve({ platform, cacheDir, log });

async function treeOf(image: ResolvedImage): Promise<RootfsTree> {
  const tree = new RootfsTree();
  const limits = { maxBytes: 1 << 30, bytesSoFar: 0 };
  const layers = image.layers();
  for (let i = 0; i < layers.length; i++) await applyLayer(tree, layers[i].members(), i, layers[i].label, limits);
  return tree;
}

const node = (t: RootfsTree, p: string) => t.lookup(pathComponents(p, 't'), 't');
const text = (t: RootfsTree, p: string) => Buffer.concat(node(t, p)!.inode.content).toString();
const paths = (t: RootfsTree) => [...t.walk()].map((w) => w.path).filter(Boolean);


test('app.aci (xz) resolves with its base (gzip) from --aci-path and maps the manifest', async () => {
  const logs: string[] = [];
  const image = await resolveAci('app.aci', [deps], (l) => logs.push(l));
  const sha = (f: string) => `sha256:${createHash('sha256').update(readFileSync(f)).digest('hex')}`;
  assert.is(image.manifestDigest, sha(join(out, 'app.aci')));
  assert.match(image.configDigest, /^sha256:[0-9a-f]{64}$/);
  assert.match(image.contentKey, /^sha256:[0-9a-f]{64}$/);
  assert.equal(image.layers().map((l) => l.label), ['ACI base.aci (example.com/busybox-base)', 'ACI app.aci (example.com/hello-app)']);
  assert.ok(logs.some((l) => l.includes('dependency example.com/busybox-base')));
  assert.ok(logs.some((l) => l.includes('app.isolators is not applied')));
  const r = image.config.runtime;
  assert.equal(r.entrypoint, []);
  assert.equal(r.cmd, ['/bin/hello', '--greeting', 'hi there']);
  assert.equal(r.env, ['GREETING=hello world', 'PATH=/bin']);
  assert.is(r.user, 'app:4321', 'user name passes through; group path is the owner gid of /srv/owned in the base');
  assert.is(r.workingDir, '/home/app');
  assert.equal(r.exposedPorts, ['80/tcp', '53/udp', '54/udp']);
  assert.equal(r.portNames, { '80/tcp': 'http', '53/udp': 'dns', '54/udp': 'dns' });
  assert.equal(r.volumes, ['/data']);
  assert.equal(r.volumeNames, { '/data': 'data' });
  assert.equal(r.labels, { version: '2.0', os: 'linux', arch: 'amd64' });
  assert.equal(image.config.platform, platform);
});

test('the layers build a tree: base below app, owners, modes, symlinks, rootfs/ stripped', async () => {
  const tree = await treeOf(await resolveAci('app.aci'));
  assert.is(text(tree, 'etc/motd'), 'app motd replaces base\n');
  assert.is(text(tree, 'etc/base-only'), 'from the base ACI\n');
  assert.is(node(tree, 'bin/sh')!.inode.kind, 'symlink');
  assert.is(node(tree, 'bin/sh')!.inode.target, 'busybox');
  assert.is(node(tree, 'bin/busybox')!.inode.mode, 0o755);
  assert.equal(Buffer.concat(node(tree, 'bin/busybox')!.inode.content), readFileSync('/bin/busybox'));
  assert.is(node(tree, 'tmp')!.inode.mode, 0o1777);
  assert.equal([node(tree, 'home/app')!.inode.uid, node(tree, 'home/app')!.inode.gid], [1000, 1000]);
  assert.equal([node(tree, 'srv/owned')!.inode.uid, node(tree, 'srv/owned')!.inode.gid], [1234, 4321]);
  assert.is(node(tree, 'bin/hello')!.inode.mode, 0o755);
  assert.is(node(tree, 'srv/owned-link')!.inode, node(tree, 'srv/owned')!.inode, 'hardlink target had rootfs/ stripped too');
  assert.is(node(tree, 'manifest'), null, 'the manifest is not part of the rootfs');
  assert.is(node(tree, 'rootfs'), null);
});

test('pathWhitelist (bzip2 ACI) filters the image and its dependencies', async () => {
  const tree = await treeOf(await resolveAci('slim.aci'));
  assert.equal(paths(tree), ['bin', 'bin/busybox', 'bin/cat', 'bin/sh', 'etc', 'etc/passwd', 'etc/slim', 'srv', 'srv/owned']);
  assert.is(text(tree, 'etc/slim'), 'kept by the whitelist\n');
});

test('openImageSource routes aci: references with the --aci-path option', async () => {
  const image = await openImageSource(`aci:${join(out, 'app.aci')}`, { aci: { aciPath: [deps] } }).resolve({ platform, cacheDir });
  assert.is(image.layers().length, 2);
});

test('refusals: bad manifest, missing dependency, traversal, extra top-level name, wrong platform', async () => {
  await rejectsBadInput(() => resolveAci('broken-manifest.aci'), /ACI broken-manifest\.aci manifest: acVersion "0\.7\.0" is not a supported version/);
  await rejectsBadInput(() => resolveAci('missing-dep.aci'), new RegExp(`depends on example\\.com/nowhere version=9, which cannot be resolved: no ACI with that name; searched ${deps}`));
  await rejectsBadInput(() => resolveAci('app.aci', []), /depends on example\.com\/busybox-base version=1\.0.*searched \(no --aci-path given\)/);
  await rejectsBadInput(() => resolveAci('app.aci', [out]), /busybox-base.*skipped invalid: .*broken-manifest\.aci/);
  await rejectsBadInput(() => resolveAci('traversal.aci'), /rootfs\/\.\.\/\.\.\/evil' climbs out of the root filesystem/);
  await rejectsBadInput(() => resolveAci('extra-top.aci'), /'README' at the top of the archive; an ACI holds only 'manifest' and 'rootfs'/);
  await rejectsBadInput(() => resolveAci('nonexistent.aci'), /cannot read .*nonexistent\.aci \(ENOENT\)/);
  await rejectsBadInput(
    () => new AciSource({ path: join(out, 'app.aci'), text: 'x' }, { aciPath: [deps] }).resolve({ platform: { os: 'linux', architecture: 'arm64' }, cacheDir }),
    /labels arch is 'amd64', but the build is for linux\/arm64/,
  );
});

test('hostile members in a hand-made ACI: whiteout names, hardlinks out of rootfs/, the reserved /.hyperstart', async () => {
  const manifest = Buffer.from(JSON.stringify({ acKind: 'ImageManifest', acVersion: '0.8.11', name: 'example.com/h', app: { exec: ['/x'], user: '0', group: '0' } }));
  const cases: [TarWriteMember[], RegExp][] = [
    [[{ entry: { path: 'rootfs/etc/.wh.passwd', type: 'file' }, data: Buffer.alloc(0) }], /'\.wh\.' names are OCI whiteouts/],
    [[{ entry: { path: 'rootfs/x', type: 'hardlink', linkname: 'manifest' } }], /link target: 'manifest' is outside rootfs\//],
    [[{ entry: { path: 'rootfs/.hyperstart/init', type: 'file' }, data: Buffer.from('x') }], /\/\.hyperstart is reserved/],
    [[{ entry: { path: 'manifest', type: 'directory' } }], /'manifest' must be a regular file/],
  ];
  for (const [i, [members, re]] of cases.entries()) {
    const file = join(out, `hostile-${i}.aci`);
    writeFileSync(file, encodeTar([{ entry: { path: 'manifest', type: 'file' }, data: manifest }, { entry: { path: 'rootfs/', type: 'directory' } }, ...members]));
    await rejectsBadInput(async () => treeOf(await resolveAci(`hostile-${i}.aci`)), re);
  }
});

test('fixtures are reproducible', () => {
  const again = tempDir('aci-test-again');
  try {
    execFileSync(process.execPath, ['--import', 'tsx', 'fixtures/make-aci.ts', again], { stdio: 'pipe' });
    for (const f of ['app.aci', 'slim.aci', 'deps/base.aci', 'traversal.aci', 'extra-top.aci']) assert.equal(readFileSync(join(again, f)), readFileSync(join(out, f)), f);
  } finally {
    rmSync(again, { recursive: true, force: true });
  }
});

test.after(() => rmSync(out, { recursive: true, force: true }));

test.run();
