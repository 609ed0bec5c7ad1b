/**
 * Pushing bundles to a real registry: the OCI 1.1 artifact layout, skipping
 * blobs the registry has, chunked uploads, cross-repository mounts, and
 * interop: skopeo reads and copies what we push, unchanged.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { HyperbuildError } from '../toolchain/errors/errors.ts';
import { pullBundle } from '../toolchain/registry/bundle-pull.ts';
import { pushBundle } from '../toolchain/registry/bundle-push.ts';
import { inspectReference } from '../toolchain/registry/inspect.ts';
import { pullImage } from '../toolchain/registry/registry-source.ts';
import { makeBundleDir, makeOciLayout, tempDir, type BundleInfo } from './helpers/registry-fixtures.ts';
import { runCli } from './helpers/cli.ts';
import { startRegistry, type RegistryServer } from './helpers/registry-server.ts';

let registry: RegistryServer;
let work: string;
let bundle: BundleInfo;

test.before(async () => {
  registry = await startRegistry({ kind: 'open' });
  work = tempDir('registry-push');
  bundle = await makeBundleDir(join(work, 'bundle'));
});

test.after(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function skopeo(...args: string[]): string {
  return execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

test('push writes an OCI 1.1 artifact that skopeo reads byte for byte', async () => {
  const ref = `${registry.host}/team/app:1.0`;
  const result = await pushBundle(bundle.dir, ref);
  assert.equal(
    result.blobs.map((b) => [b.name, b.outcome]),
    [
      ['bundle.json', 'uploaded'],
      ['vmlinux', 'uploaded'],
      ['initramfs.cpio.gz', 'uploaded'],
    ],
  );
  const raw = skopeo('inspect', '--raw', '--tls-verify=false', `docker://${ref}`);
  assert.is(sha256Digest(raw), result.manifestDigest);
  const manifest = JSON.parse(raw);
  assert.is(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.is(manifest.artifactType, 'application/vnd.hyperbuild.bundle.v1');
  assert.equal(manifest.config, { mediaType: 'application/vnd.hyperbuild.bundle.config.v1+json', digest: sha256Digest(bundle.bundleJson), size: bundle.bundleJson.length });
  assert.equal(
    manifest.layers.map((l: { mediaType: string; annotations: Record<string, string> }) => [l.mediaType, l.annotations['org.opencontainers.image.title']]),
    [
      ['application/vnd.hyperbuild.kernel.v1', 'vmlinux'],
      ['application/vnd.hyperbuild.initramfs.v1.cpio+gzip', 'initramfs.cpio.gz'],
    ],
  );
  assert.equal(manifest.annotations, {
    'org.opencontainers.image.created': '2023-11-14T22:13:20Z',
    'org.opencontainers.image.base.name': 'docker.io/library/busybox:1.36',
    'org.opencontainers.image.base.digest': bundle.bundle.source.manifestDigest,
    'vnd.hyperbuild.source.platform': 'linux/amd64',
    'vnd.hyperbuild.kernel.release': '6.1.0-hyper',
  });
});

test('pushing an unchanged bundle uploads no blobs and gives the same digest', async () => {
  const first = await pushBundle(bundle.dir, `${registry.host}/team/app:1.0`);
  const again = await pushBundle(bundle.dir, `${registry.host}/team/app:1.0-again`);
  assert.is(again.manifestDigest, first.manifestDigest);
  assert.ok(again.blobs.every((b) => b.outcome === 'exists'), JSON.stringify(again.blobs));
});

test('skopeo copies a pushed bundle to an OCI layout unchanged', async () => {
  const pushed = await pushBundle(bundle.dir, `${registry.host}/team/app:copy`);
  const layout = join(work, 'skopeo-layout');
  skopeo('copy', '--src-tls-verify=false', `docker://${registry.host}/team/app:copy`, `oci:${layout}:copy`);
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  assert.is(index.manifests[0].digest, pushed.manifestDigest);
  const kernel = readFileSync(join(layout, 'blobs', 'sha256', bundle.bundle.kernel.digest.slice(7)));
  assert.is(sha256Digest(kernel), bundle.bundle.kernel.digest);
});

test('a bundle whose files do not match bundle.json is refused before anything is sent', async () => {
  const broken = await makeBundleDir(join(work, 'broken'), { seed: 'broken' });
  writeFileSync(join(broken.dir, 'vmlinux'), 'tampered');
  try {
    await pushBundle(broken.dir, `${registry.host}/team/broken:1`);
    assert.unreachable();
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.match((err as Error).message, /kernel vmlinux has 8 bytes, bundle.json says 300000/);
  }
  const res = await fetch(`http://${registry.host}/v2/team/broken/tags/list`);
  assert.is(res.status, 404);
});

test('big blobs go up in chunks; pull gets the bundle back verified', async () => {
  const big = await makeBundleDir(join(work, 'big'), { seed: 'big', rootfsSize: 5 * 1024 * 1024 + 123 });
  const logs: string[] = [];
  const pushed = await pushBundle(big.dir, `${registry.host}/team/big:1`, { chunkSize: 1024 * 1024, log: (l) => logs.push(l) });
  assert.ok(pushed.blobs.find((b) => b.name === 'rootfs.ext4')?.outcome === 'uploaded');
  const out = join(work, 'pulled-big');
  const cacheDir = join(work, 'cache-big');
  const pulled = await pullBundle(`${registry.host}/team/big:1`, out, { cacheDir });
  assert.is(pulled.manifestDigest, pushed.manifestDigest);
  assert.equal(readdirSync(out).sort(), ['bundle.json', 'initramfs.cpio.gz', 'rootfs.ext4', 'vmlinux']);
  assert.ok(readFileSync(join(out, 'bundle.json')).equals(big.bundleJson));
  assert.is(sha256Digest(readFileSync(join(out, 'rootfs.ext4'))), big.bundle.rootfs!.digest);
  const layer = JSON.parse(skopeo('inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/team/big:1`)).layers[2];
  assert.equal([layer.mediaType, layer.annotations['org.opencontainers.image.title']], ['application/vnd.hyperbuild.rootfs.v1.ext4', 'rootfs.ext4']);
  // No temp dirs left beside the output.
  assert.equal(readdirSync(work).filter((f) => f.startsWith('.pulled-big.')), []);
});

test('pull refuses to overwrite a non-empty directory, and refuses ordinary images', async () => {
  await pushBundle(bundle.dir, `${registry.host}/team/app:1.0`);
  const out = join(work, 'occupied');
  mkdirSync(out);
  writeFileSync(join(out, 'keep'), 'x');
  try {
    await pullBundle(`${registry.host}/team/app:1.0`, out, { cacheDir: join(work, 'cache-occupied') });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /already exists and is not empty/);
  }
  const layout = join(work, 'image-layout');
  makeOciLayout(layout);
  skopeo('copy', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${registry.host}/team/plain:1`);
  try {
    await pullBundle(`${registry.host}/team/plain:1`, join(work, 'plain-out'), { cacheDir: join(work, 'cache-plain') });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.match((err as Error).message, /is a container image, not a hyperbuild bundle/);
    assert.match((err as HyperbuildError).hint ?? '', /hyperbuild build/);
  }
  assert.not.ok(existsSync(join(work, 'plain-out')));
  try {
    await pullImage(`${registry.host}/team/app:1.0`, { cacheDir: join(work, 'cache-plain') });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /is a hyperbuild bundle, not a container image/);
  }
});

test('a bundle pulled from one repository is pushed to another by mounting its blobs', async () => {
  const src = await makeBundleDir(join(work, 'mount-src'), { seed: 'mount' });
  await pushBundle(src.dir, `${registry.host}/team/source:1`);
  const cacheDir = join(work, 'cache-mount');
  const out = join(work, 'mount-pulled');
  await pullBundle(`${registry.host}/team/source:1`, out, { cacheDir });
  const pushed = await pushBundle(out, `${registry.host}/other/dest:1`, { cacheDir });
  assert.equal(
    pushed.blobs.map((b) => b.outcome),
    ['mounted', 'mounted', 'mounted'],
  );
  const raw = skopeo('inspect', '--raw', '--tls-verify=false', `docker://${registry.host}/other/dest:1`);
  assert.is(sha256Digest(raw), pushed.manifestDigest);
});

test('inspect summarises a bundle', async () => {
  await pushBundle(bundle.dir, `${registry.host}/team/app:1.0`);
  const info = await inspectReference(`${registry.host}/team/app:1.0`, { cacheDir: join(work, 'cache-inspect') });
  assert.is(info.kind, 'bundle');
  assert.is(info.bundle?.kernel.release, '6.1.0-hyper');
  assert.is(info.bundle?.source.reference, 'docker.io/library/busybox:1.36');
  assert.is(info.layers?.[1]?.title, 'initramfs.cpio.gz');
});

test('CLI: push prints the digest, inspect --json, pull -o', async () => {
  const ref = `${registry.host}/cli/app:2`;
  const env = { XDG_CACHE_HOME: join(work, 'xdg'), DOCKER_CONFIG: join(work, 'docker-empty') };
  const push = await runCli(['push', bundle.dir, ref], { from: 'source', env });
  assert.is(push.status, 0, push.stderr);
  assert.match(push.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  const inspect = await runCli(['inspect', ref, '--json'], { from: 'source', env });
  assert.is(inspect.status, 0, inspect.stderr);
  const info = JSON.parse(inspect.stdout);
  assert.is(info.digest, push.stdout.trim());
  assert.is(info.kind, 'bundle');
  const out = join(work, 'cli-out');
  const pull = await runCli(['pull', ref, '-o', out], { from: 'source', env });
  assert.is(pull.status, 0, pull.stderr);
  assert.is(pull.stdout.trim(), push.stdout.trim());
  assert.ok(readFileSync(join(out, 'bundle.json')).equals(bundle.bundleJson));
  const bad = await runCli(['pull', 'Bad:Ref:x', '-o', join(work, 'x')], { from: 'source', env });
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /invalid image reference 'Bad:Ref:x'/);
});

test.run();
