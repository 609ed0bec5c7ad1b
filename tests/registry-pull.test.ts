/**
 * Pulling images from a real registry (distribution 2.8) that skopeo filled
 * from an OCI layout: manifests, platform selection, verified blobs in the
 * BlobStore, cache hits, concurrent pulls of the same layers.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { HyperbuildError } from '../toolchain/errors/errors.ts';
import { inspectReference } from '../toolchain/registry/inspect.ts';
import { RegistryClient } from '../toolchain/registry/client.ts';
import { pullImage } from '../toolchain/registry/registry-source.ts';
import { listTags } from '../toolchain/registry/tags.ts';
import { makeOciLayout, tempDir, type OciLayoutInfo } from './helpers/registry-fixtures.ts';
import { startRegistry, type RegistryServer } from './helpers/registry-server.ts';

let registry: RegistryServer;
let work: string;
let single: OciLayoutInfo;
let multi: OciLayoutInfo;

function skopeoCopy(layout: string, ref: string, all = false, format?: 'v2s2'): void {
  execFileSync('skopeo', ['copy', ...(all ? ['--all'] : []), ...(format ? ['--format', format] : []), '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${ref}`], { stdio: 'pipe' });
}

test.before(async () => {
  registry = await startRegistry({ kind: 'open' });
  work = tempDir('registry-pull');
  single = makeOciLayout(join(work, 'single'));
  multi = makeOciLayout(join(work, 'multi'), { platforms: ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'] });
  skopeoCopy(single.dir, `${registry.host}/test/single:1.0`);
  skopeoCopy(multi.dir, `${registry.host}/test/multi:latest`, true);
});

test.after(async () => {
  await registry?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('pullImage fetches an image skopeo pushed, verified into the BlobStore', async () => {
  const cacheDir = join(work, 'cache-single');
  const image = await pullImage(`${registry.host}/test/single:1.0`, { cacheDir });
  const expected = single.images[0]!;
  assert.is(image.manifestDigest, expected.manifestDigest);
  assert.is(image.configDigest, expected.configDigest);
  assert.is(image.indexDigest, undefined);
  assert.is(image.reference, `${registry.host}/test/single:1.0`);
  assert.is((image.config as { architecture: string }).architecture, 'amd64');
  assert.is(image.layers.length, 1);
  const layer = image.layers[0]!;
  assert.is(layer.digest, expected.layerDigest);
  assert.is(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
  assert.is(layer.path, join(cacheDir, 'blobs', 'sha256', expected.layerDigest.slice(7)));
  assert.is(sha256Digest(readFileSync(layer.path)), expected.layerDigest);
  assert.is(sha256Digest(readFileSync(image.configPath)), expected.configDigest);
  const listing = execFileSync('tar', ['-tzf', layer.path], { encoding: 'utf8' });
  assert.match(listing, /hello\.txt/);
});

test('pullImage picks linux/amd64 from an index by default, and other platforms on request', async () => {
  const cacheDir = join(work, 'cache-multi');
  const amd = await pullImage(`${registry.host}/test/multi`, { cacheDir });
  assert.is(amd.manifestDigest, multi.images[0]!.manifestDigest);
  assert.is(amd.indexDigest, multi.topDigest);
  assert.is(amd.platform, 'linux/amd64');
  const arm64 = await pullImage(`${registry.host}/test/multi:latest`, { cacheDir, platform: 'linux/arm64' });
  assert.is(arm64.manifestDigest, multi.images[1]!.manifestDigest);
  const arm7 = await pullImage(`${registry.host}/test/multi:latest`, { cacheDir, platform: 'linux/arm/v7' });
  assert.is(arm7.layers[0]!.digest, multi.images[2]!.layerDigest);
  try {
    await pullImage(`${registry.host}/test/multi:latest`, { cacheDir, platform: 'linux/s390x' });
    assert.unreachable('s390x is not in the index');
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.match((err as Error).message, /no image for linux\/s390x \(it has: linux\/amd64, linux\/arm64\/v8, linux\/arm\/v7\)/);
  }
});

test('pulling by digest verifies the manifest digest', async () => {
  const cacheDir = join(work, 'cache-digest');
  const image = await pullImage(`${registry.host}/test/multi@${multi.images[1]!.manifestDigest}`, { cacheDir });
  assert.is(image.manifestDigest, multi.images[1]!.manifestDigest);
});

test('a second pull uses the cache; two concurrent pulls of one image both succeed', async () => {
  const cacheDir = join(work, 'cache-concurrent');
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => pullImage(`${registry.host}/test/single:1.0`, { cacheDir })));
  assert.is(a!.layers[0]!.path, b!.layers[0]!.path);
  assert.is(b!.layers[0]!.path, c!.layers[0]!.path);
  const files = readdirSync(join(cacheDir, 'blobs', 'sha256'));
  assert.ok(files.every((f) => /^[0-9a-f]{64}$/.test(f)), `no temp files left: ${files.join(' ')}`);
  assert.is(sha256Digest(readFileSync(a!.layers[0]!.path)), single.images[0]!.layerDigest);
});

test('unknown repositories and tags fail with a clear error', async () => {
  const cacheDir = join(work, 'cache-missing');
  try {
    await pullImage(`${registry.host}/test/nope:1`, { cacheDir });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.match((err as Error).message, /not found on 127\.0\.0\.1:\d+/);
  }
  try {
    await pullImage('Not A Reference', { cacheDir });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /invalid image reference 'Not A Reference'/);
  }
});

test('inspect lists an index with its platforms, and an image with its platform', async () => {
  const cacheDir = join(work, 'cache-inspect');
  const index = await inspectReference(`${registry.host}/test/multi`, { cacheDir });
  assert.is(index.kind, 'index');
  assert.is(index.digest, multi.topDigest);
  assert.equal(index.platforms, ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7']);
  const image = await inspectReference(`${registry.host}/test/single:1.0`, { cacheDir });
  assert.is(image.kind, 'image');
  assert.is(image.image?.platform, 'linux/amd64');
  assert.is(image.layers?.length, 1);
});

test('Docker schema 2 manifests and manifest lists (skopeo --format v2s2) are read too', async () => {
  skopeoCopy(single.dir, `${registry.host}/test/docker:1`, false, 'v2s2');
  skopeoCopy(multi.dir, `${registry.host}/test/dockerlist:1`, true, 'v2s2');
  const cacheDir = join(work, 'cache-docker');
  const image = await pullImage(`${registry.host}/test/docker:1`, { cacheDir });
  assert.is(image.manifest.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.is(image.layers[0]!.mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  assert.is(image.layers[0]!.digest, single.images[0]!.layerDigest);
  const fromList = await pullImage(`${registry.host}/test/dockerlist:1`, { cacheDir, platform: 'linux/arm64' });
  const top = await inspectReference(`${registry.host}/test/dockerlist:1`, { cacheDir });
  assert.is(top.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  assert.is(fromList.indexDigest, top.digest);
  assert.is(fromList.layers[0]!.digest, multi.images[1]!.layerDigest);
});

test('tags are listed', async () => {
  const client = await RegistryClient.create(registry.host);
  try {
    assert.equal(await listTags(client, 'test/single'), ['1.0']);
  } finally {
    client.close();
  }
});

test.run();
