import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, hyperbuild, runCli } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';

const work = tempDir('build');
const cache = join(work, 'cache');
// Tests share the machine's kernel cache (the HyperKernel takes minutes to build) but not its blob cache.
const kernelCache = process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? join(process.env.HOME ?? '/root', '.cache', 'hyperbuild');

function build(ref: string, out: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return hyperbuild(['build', ref, '-o', out, '--cache-dir', cache, '--json', ...extra], { env: { HYPERBUILD_KERNEL_CACHE_DIR: kernelCache, ...env } });
}

/** The system tools, not ours, undo each compression. */
const UNPACK: Record<string, string> = { gzip: 'gzip -dc', zstd: 'zstd -dc', lz4: 'lz4 -dc', none: 'cat' };

function cpioList(bundle: string): string[] {
  const m = JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8'));
  const file = join(bundle, m.initramfs.name);
  const raw = execFileSync('sh', ['-c', `${UNPACK[m.initramfs.compression]} < ${file}`], { maxBuffer: 1 << 30 });
  return execFileSync('cpio', ['-t', '--quiet'], { input: raw, maxBuffer: 1 << 30 }).toString().trim().split('\n');
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('oci layout, oci-archive and both docker-archive flavours give the same root filesystem', async () => {
  const refs = [`oci:${FIXTURES}/busybox:latest`, `oci-archive:${FIXTURES}/busybox-oci.tar:latest`, `docker-archive:${FIXTURES}/busybox.tar`, `docker-archive:${FIXTURES}/busybox-docker25.tar:busybox:latest`];
  const listings = refs.map((ref, i) => {
    const out = join(work, `t${i}`);
    const r = build(ref, out);
    assert.is(r.status, 0, `${ref}: ${r.stderr}`);
    const json = JSON.parse(r.stdout);
    assert.is(json.source.reference, ref);
    return cpioList(out);
  });
  assert.equal(listings[1], listings[0]);
  assert.equal(listings[2], listings[0]);
  assert.equal(listings[3], listings[0]);
  const files = new Set(listings[0]);
  for (const p of ['.hyperstart/init', '.hyperstart/spec', 'bin/busybox', 'bin/sh', 'etc/passwd', 'etc/motd', 'www/index.html', 'tmp']) assert.ok(files.has(p), p);
  assert.not.ok(files.has('etc/doomed'), 'whiteout applied');
  assert.not.ok(files.has('etc/.wh.doomed'), 'whiteout markers never reach the guest');
});

test('GNU cpio extracts what the layers say (content, modes, owners)', async () => {
  const out = join(work, 't0');
  const dest = join(work, 'extract');
  const m = JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8'));
  execFileSync('sh', ['-c', `mkdir -p ${dest} && cd ${dest} && ${UNPACK[m.initramfs.compression]} < ${join(out, m.initramfs.name)} | cpio -i -d --quiet --no-absolute-filenames --preserve-modification-time`]);
  assert.is(readFileSync(join(dest, 'etc/motd'), 'utf8'), 'layer 2 replaced this\n');
  assert.ok(readFileSync(join(dest, 'bin/busybox')).equals(readFileSync('/bin/busybox')));
  const stat = execFileSync('stat', ['-c', '%a %u %g', join(dest, 'home/app'), join(dest, 'tmp')]).toString().trim().split('\n');
  assert.equal(stat, ['755 1000 1000', '1777 0 0']);
});

test('reproducible: two builds with separate caches give identical bytes', async () => {
  const a = join(work, 'repro-a');
  const b = join(work, 'repro-b');
  assert.is(build(`oci:${FIXTURES}/busybox:hello`, a, [], { SOURCE_DATE_EPOCH: '1600000000' }).status, 0);
  const r = hyperbuild(['build', `oci:${FIXTURES}/busybox:hello`, '-o', b, '--cache-dir', join(work, 'cache2'), '--json'], { env: { SOURCE_DATE_EPOCH: '1600000000', HYPERBUILD_KERNEL_CACHE_DIR: kernelCache } });
  assert.is(r.status, 0, r.stderr);
  for (const f of readdirSync(a)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
  assert.is(JSON.parse(readFileSync(join(a, 'bundle.json'), 'utf8')).sourceDateEpoch, 1600000000);
});

test('a rebuild of an unchanged image is a no-op', async () => {
  const out = join(work, 't0');
  const r = build(`oci:${FIXTURES}/busybox:latest`, out);
  assert.is(r.status, 0, r.stderr);
  assert.is(JSON.parse(r.stdout).upToDate, true);
});

test('two builds of the same image at once, sharing a cache, both succeed', async () => {
  const shared = join(work, 'cache-concurrent');
  const run = async (out: string) =>
    (await runCli(['build', `oci-archive:${FIXTURES}/busybox-oci.tar:latest`, '-o', out, '--cache-dir', shared, '--json'], { env: { HYPERBUILD_KERNEL_CACHE_DIR: kernelCache } })).status;
  const [a, b] = await Promise.all([run(join(work, 'conc-a')), run(join(work, 'conc-b'))]);
  assert.equal([a, b], [0, 0]);
  const ma = readFileSync(join(work, 'conc-a', 'bundle.json'), 'utf8');
  assert.is(ma, readFileSync(join(work, 'conc-b', 'bundle.json'), 'utf8'));
});

test('each compression writes a valid archive with the right name', async () => {
  for (const [c, name] of [['zstd', 'initramfs.cpio.zst'], ['gzip', 'initramfs.cpio.gz'], ['lz4', 'initramfs.cpio.lz4'], ['none', 'initramfs.cpio']]) {
    const out = join(work, `c-${c}`);
    const r = build(`oci:${FIXTURES}/busybox:hello`, out, ['--compression', c]);
    assert.is(r.status, 0, r.stderr);
    assert.ok(existsSync(join(out, name)), name);
  }
  const lz4 = readFileSync(join(work, 'c-lz4', 'initramfs.cpio.lz4'));
  assert.is(lz4.readUInt32LE(0), 0x184c2102, 'legacy lz4 frame');
});

test('hostile: a corrupted layer blob is refused, names the blob, and leaves no output', async () => {
  const layout = join(work, 'corrupt');
  cpSync(join(FIXTURES, 'busybox'), layout, { recursive: true });
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  const layer = manifest.layers[1].digest;
  const path = join(layout, 'blobs/sha256', layer.slice(7));
  const bytes = readFileSync(path);
  bytes[bytes.length - 20] ^= 0xff;
  writeFileSync(path, bytes);
  const out = join(work, 'never');
  // A fresh cache: with the shared one the manifest digest would (rightly) hit the cached initramfs.
  const r = hyperbuild(['build', `oci:${layout}:latest`, '-o', out, '--cache-dir', join(work, 'cache-fresh')], { env: { HYPERBUILD_KERNEL_CACHE_DIR: kernelCache } });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, layer);
  assert.not.ok(existsSync(out), 'no partial bundle');
  assert.equal(readdirSync(work).filter((n) => n.startsWith('.never')), [], 'no temp dirs left');
});

test('a failed build never touches an existing good bundle', async () => {
  const out = join(work, 't0');
  const before = readFileSync(join(out, 'bundle.json'));
  // Another compression changes the build key, so the corrupt blob must be read (and refused).
  const r = hyperbuild(['build', `oci:${join(work, 'corrupt')}:latest`, '-o', out, '--compression', 'zstd', '--cache-dir', join(work, 'cache-fresh')], { env: { HYPERBUILD_KERNEL_CACHE_DIR: kernelCache } });
  assert.is.not(r.status, 0);
  assert.match(r.stderr, /sha256:[0-9a-f]{64} of oci:/);
  assert.ok(readFileSync(join(out, 'bundle.json')).equals(before));
});

test('bad references and platforms give one clear line and exit 2', async () => {
  const cases: [string[], RegExp][] = [
    [[`oci:${FIXTURES}/busybox:nope`], /has no image tagged 'nope'[\s\S]*tags there: latest, hello/],
    [[`oci:${FIXTURES}/busybox:latest`, '--platform', 'linux/arm64'], /platform linux\/amd64, not linux\/arm64[\s\S]*available platforms: linux\/amd64/],
    [[`oci:${work}/missing`], /cannot read index.json/],
    [[`docker-archive:${FIXTURES}/busybox.tar:other:tag`], /has no image 'other:tag'[\s\S]*busybox:latest/],
  ];
  for (const [args, re] of cases) {
    const r = hyperbuild(['build', ...args, '-o', join(work, 'bad'), '--cache-dir', cache], { env: { HYPERBUILD_KERNEL_CACHE_DIR: kernelCache } });
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.not.match(r.stderr, /at .*\.ts:\d+/, 'no stack trace without --debug');
  }
});

test.run();
