/**
 * The registry client's pure parts: references, WWW-Authenticate, Retry-After,
 * platforms, manifest parsing (schema 1 refused), the bundle artifact
 * manifest, and the Docker config file. Platforms and manifests live in
 * toolchain/image/, shared with the other image sources.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { parseManifest } from '../toolchain/image/manifest.ts';
import { parsePlatform, platformMatches } from '../toolchain/image/platform.ts';
import { selectPlatform } from '../toolchain/image/platform-select.ts';
import { artifactManifest, bundleArtifact, checkArtifactLayers, isBundleArtifact } from '../toolchain/bundle/oci-artifact.ts';
import { openBundle } from '../toolchain/bundle/open-bundle.ts';
import { parseBundleManifest } from '../toolchain/bundle/parse-manifest.ts';
import { mapLimit } from '../toolchain/registry/concurrency.ts';
import { credentialKey, eraseCredentials, lookupCredentials, storeCredentials } from '../toolchain/registry/docker-config.ts';
import { formatReference, isLoopbackRegistry, parseReference, registryEndpoint } from '../toolchain/registry/reference.ts';
import { parseRetryAfter } from '../toolchain/registry/retry.ts';
import { parseWwwAuthenticate } from '../toolchain/registry/www-authenticate.ts';
import { makeBundleDir, tempDir } from './helpers/registry-fixtures.ts';

const D = `sha256:${'a'.repeat(64)}`;

test('references: registries, Docker Hub short names, tags, digests', () => {
  assert.equal(parseReference('registry.example.com/team/api:1.4'), { registry: 'registry.example.com', repository: 'team/api', tag: '1.4', digest: undefined });
  assert.equal(parseReference('nginx'), { registry: 'docker.io', repository: 'library/nginx', tag: 'latest', digest: undefined });
  assert.equal(parseReference('bitnami/redis:7'), { registry: 'docker.io', repository: 'bitnami/redis', tag: '7', digest: undefined });
  assert.equal(parseReference('index.docker.io/nginx').repository, 'library/nginx');
  assert.equal(parseReference('localhost:5000/x'), { registry: 'localhost:5000', repository: 'x', tag: 'latest', digest: undefined });
  assert.equal(parseReference('localhost/x:1').registry, 'localhost');
  assert.equal(parseReference(`ghcr.io/o/r@${D}`), { registry: 'ghcr.io', repository: 'o/r', tag: undefined, digest: D });
  assert.equal(parseReference(`ghcr.io/o/r:v1@${D}`).tag, 'v1');
  assert.equal(parseReference('[::1]:5000/a/b:c').registry, '[::1]:5000');
  assert.is(formatReference(parseReference('nginx')), 'docker.io/library/nginx:latest');
  assert.is(registryEndpoint('docker.io'), 'registry-1.docker.io');
  for (const bad of ['', 'team/UPPER', 'a b', 'x:', 'x@sha256:123', 'a//b', '-x', 'x:tag:more', `r/x:${'t'.repeat(200)}`]) {
    try {
      parseReference(bad);
      assert.unreachable(bad);
    } catch (err) {
      assert.instance(err, BadInputError, bad);
      assert.ok((err as Error).message.includes(`'${bad.slice(0, 100)}`), (err as Error).message);
    }
  }
  assert.ok(isLoopbackRegistry('127.0.0.1:5000'));
  assert.ok(isLoopbackRegistry('127.9.8.7'));
  assert.ok(isLoopbackRegistry('localhost:5000'));
  assert.ok(isLoopbackRegistry('[::1]:5000'));
  assert.not.ok(isLoopbackRegistry('128.0.0.1'));
  assert.not.ok(isLoopbackRegistry('localhost.example.com'));
});

test('WWW-Authenticate: bearer parameters, quoting, several challenges', () => {
  assert.equal(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
  ]);
  assert.equal(parseWwwAuthenticate('Basic realm="a \\"quoted\\" realm", Bearer realm=x,error=insufficient_scope'), [
    { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
    { scheme: 'bearer', params: { realm: 'x', error: 'insufficient_scope' } },
  ]);
  assert.equal(parseWwwAuthenticate('Bearer realm="r",scope="repository:a:pull,push"')[0]!.params.scope, 'repository:a:pull,push');
});

test('Retry-After: seconds and HTTP dates', () => {
  assert.is(parseRetryAfter('3'), 3000);
  assert.is(parseRetryAfter(new Date(10_000).toUTCString(), 5_000), 5000);
  assert.is(parseRetryAfter('soon'), undefined);
  assert.is(parseRetryAfter(undefined), undefined);
});

test('platforms: defaults, aliases, variants', () => {
  assert.equal(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64' });
  assert.equal(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.equal(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' });
  assert.ok(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  assert.ok(platformMatches(parsePlatform('linux/arm'), { os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.not.ok(platformMatches(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v7' }));
  assert.throws(() => parsePlatform('amd64'), /invalid platform 'amd64'/);
});

test('manifests: OCI and Docker schema 2 parse; schema 1, junk and bad descriptors are refused', () => {
  const layer = { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D, size: 3 };
  const docker = parseManifest(
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: D, size: 1 }, layers: [layer] })),
    undefined,
    'm',
  );
  assert.is(docker.kind, 'image');
  const list = parseManifest(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
        manifests: [
          { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: D, size: 5, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: `sha256:${'b'.repeat(64)}`, size: 5, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    ),
    undefined,
    'l',
  );
  assert.is(list.kind, 'index');
  if (list.kind === 'index') assert.is(selectPlatform(list.index, parsePlatform('linux/amd64'), 'l').digest, `sha256:${'b'.repeat(64)}`);
  // The media type may come only from Content-Type.
  const bare = parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: D, size: 1 }, layers: [] })), 'application/vnd.oci.image.manifest.v1+json; charset=utf-8', 'b');
  assert.is(bare.kind === 'image' && bare.manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] })), 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'old'), /schema 1, which is deprecated and not supported/);
  assert.throws(() => parseManifest(Buffer.from('not json'), undefined, 'j'), /not valid JSON/);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: 'sha256:bad', size: 1 }, layers: [] })), undefined, 'd'), /invalid digest/);
  assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, config: { mediaType: 'x', digest: D, size: -1 }, layers: [] })), undefined, 's'), /invalid size/);
});

test('bundle artifact: deterministic manifest; created comes from the bundle, not the clock', async () => {
  const dir = tempDir('units-bundle');
  try {
    const b = await makeBundleDir(join(dir, 'b'), { rootfsSize: 1000 });
    const one = bundleArtifact(await openBundle(b.dir, { verify: 'full' }));
    const two = bundleArtifact(await openBundle(b.dir, { verify: 'full' }));
    assert.is(one.manifestDigest, two.manifestDigest);
    assert.is(one.configDigest, sha256Digest(b.bundleJson));
    assert.equal(one.files.map((f) => [f.role, f.path]), [['kernel', join(b.dir, 'vmlinux')], ['initramfs', join(b.dir, 'initramfs.cpio.gz')], ['rootfs', join(b.dir, 'rootfs.ext4')]]);
    const manifest = JSON.parse(one.manifestBytes.toString());
    assert.is(manifest.annotations['org.opencontainers.image.created'], '2023-11-14T22:13:20Z');
    assert.equal(
      manifest.layers.map((l: { mediaType: string }) => l.mediaType),
      ['application/vnd.hyperbuild.kernel.v1', 'application/vnd.hyperbuild.initramfs.v1.cpio+gzip', 'application/vnd.hyperbuild.rootfs.v1.ext4'],
    );
    assert.equal(manifest.layers.map((l: { annotations: Record<string, string> }) => l.annotations['org.opencontainers.image.title']), ['vmlinux', 'initramfs.cpio.gz', 'rootfs.ext4']);
    const { sourceDateEpoch: _drop, ...noEpochJson } = { ...b.bundle, initramfs: { ...b.bundle.initramfs, compression: 'none' } };
    void _drop;
    const noEpoch = JSON.parse(artifactManifest(parseBundleManifest(noEpochJson, 'x'), b.bundleJson).toString());
    assert.is(noEpoch.annotations['org.opencontainers.image.created'], undefined);
    assert.is(noEpoch.layers[1].mediaType, 'application/vnd.hyperbuild.initramfs.v1.cpio');
    // Pull's check: the layers are exactly the files bundle.json names.
    assert.ok(isBundleArtifact(manifest));
    assert.not.ok(isBundleArtifact({ ...manifest, artifactType: undefined, config: { ...manifest.config, mediaType: 'application/vnd.oci.image.config.v1+json' } }));
    checkArtifactLayers(manifest, one.bundle, 'r');
    assert.throws(() => checkArtifactLayers({ ...manifest, layers: manifest.layers.slice(0, 2) }, one.bundle, 'r'), /bundle.json names rootfs rootfs.ext4 \(sha256:[0-9a-f]{64}\) but the manifest has no such layer/);
    assert.throws(() => checkArtifactLayers({ ...manifest, layers: [...manifest.layers, manifest.layers[0]] }, one.bundle, 'r'), /the manifest has 4 layers but bundle.json names 3 files/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Docker config: auths entries are read in all the spellings Docker wrote; store and erase', async () => {
  const dir = tempDir('units-docker-config');
  try {
    const file = join(dir, 'config.json');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    writeFileSync(file, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('hub:pw') }, 'https://reg.example.com': { auth: b64('u:p:with:colons') } }, other: 'kept' }));
    assert.equal(await lookupCredentials('docker.io', file), { username: 'hub', password: 'pw' });
    assert.equal(await lookupCredentials('reg.example.com', file), { username: 'u', password: 'p:with:colons' });
    assert.is(await lookupCredentials('elsewhere.example.com', file), undefined);
    assert.is(credentialKey('docker.io'), 'https://index.docker.io/v1/');
    await storeCredentials('new.example.com:5000', { username: 'n', password: 'q' }, file);
    assert.equal(await lookupCredentials('new.example.com:5000', file), { username: 'n', password: 'q' });
    assert.ok(await eraseCredentials('new.example.com:5000', file));
    assert.not.ok(await eraseCredentials('new.example.com:5000', file));
    assert.is(await lookupCredentials('missing', join(dir, 'nope', 'config.json')), undefined);
    mkdirSync(join(dir, 'bad'));
    writeFileSync(join(dir, 'bad', 'config.json'), '{oops');
    try {
      await lookupCredentials('x', join(dir, 'bad', 'config.json'));
      assert.unreachable();
    } catch (err) {
      assert.instance(err, BadInputError);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mapLimit keeps order and never exceeds its limit', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, n * 5));
    running--;
    return n * 10;
  });
  assert.equal(out, [50, 10, 40, 20, 30, 0]);
  assert.is(peak, 2);
});

test.run();
