/**
 * Incremental builds (issue 15): decoded layers are cached by diff_id, so an
 * image that adds a layer on top of one built before decodes only the new
 * layer, and its bundle is byte-identical to a cold build of the same image
 * in an empty cache. A cached layer whose files were changed after it was
 * stored is not trusted: it is decoded again, and the output stays correct.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeTar } from '../toolchain/tar/writer.ts';
import { FIXTURES, hyperbuild } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';

const kernelCache = process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? join(process.env.HOME ?? '/root', '.cache', 'hyperbuild');
const work = tempDir('build-incremental');
const base = join(work, 'base');
const app = join(work, 'app');

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** `app`: the fixture's `latest` image plus one layer that adds /app files, replaces /etc/motd and whites out /etc/hostname. */
function makeAppImage(): void {
  cpSync(join(FIXTURES, 'busybox'), base, { recursive: true });
  cpSync(base, app, { recursive: true });
  const blob = (d: string) => readFileSync(join(app, 'blobs', 'sha256', d.slice(7)));
  const put = (b: Buffer) => {
    writeFileSync(join(app, 'blobs', 'sha256', sha256(b)), b);
    return { digest: `sha256:${sha256(b)}`, size: b.length };
  };
  const index = JSON.parse(readFileSync(join(app, 'index.json'), 'utf8'));
  const entry = index.manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === 'latest');
  const manifest = JSON.parse(blob(entry.digest).toString());
  const config = JSON.parse(blob(manifest.config.digest).toString());
  const tar = encodeTar([
    { entry: { path: 'app', type: 'directory', mode: 0o755, mtime: 1700000100 } },
    { entry: { path: 'app/main.sh', type: 'file', mode: 0o755, mtime: 1700000100 }, data: Buffer.from('#!/bin/sh\necho app\n') },
    { entry: { path: 'etc/motd', type: 'file', mode: 0o644, mtime: 1700000100 }, data: Buffer.from('the app layer\n') },
    { entry: { path: 'etc/.wh.hostname', type: 'file', mode: 0o644 } },
  ]);
  const layer = put(gzipSync(tar));
  config.rootfs.diff_ids.push(`sha256:${sha256(tar)}`);
  const newConfig = put(Buffer.from(JSON.stringify(config)));
  const newManifest = put(Buffer.from(JSON.stringify({ ...manifest, config: { ...manifest.config, ...newConfig }, layers: [...manifest.layers, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }] })));
  writeFileSync(join(app, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: manifest.mediaType ?? 'application/vnd.oci.image.manifest.v1+json', ...newManifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
}

function build(image: string, out: string, cache: string, compression = 'lz4'): { initramfs: { name: string; digest: string } } {
  const r = hyperbuild(['build', `oci:${image}:latest`, '-o', join(work, `out-${out}`), '--cache-dir', join(work, cache), '--compression', compression, '--source-date-epoch', '1700000200', '--json'], { env: { HYPERBUILD_KERNEL_CACHE_DIR: kernelCache } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(readFileSync(join(work, `out-${out}`, 'bundle.json'), 'utf8'));
}

/** The decoded-layer cache entries: name → identity of their data file. */
function layerEntries(cache: string): Map<string, string> {
  const root = join(work, cache, 'layers', 'v1');
  const out = new Map<string, string>();
  for (const name of readdirSync(root)) {
    if (name.endsWith('.json') || name.startsWith('.')) continue;
    const st = statSync(join(root, name, 'data'), { bigint: true });
    out.set(name, `${st.ino}:${st.mtimeNs}:${st.ctimeNs}`);
  }
  return out;
}

test('a layer added on top: only it is decoded, and the bundle equals a cold build', () => {
  makeAppImage();
  build(base, 'base', 'warm');
  const before = layerEntries('warm');
  assert.ok(before.size >= 2, `the base image's layers are cached (${before.size})`);
  const incremental = build(app, 'app-warm', 'warm');
  const after = layerEntries('warm');
  assert.is(after.size, before.size + 1, 'one new decoded layer');
  for (const [name, identity] of before) assert.is(after.get(name), identity, `${name} reused, not decoded again`);
  const cold = build(app, 'app-cold', 'cold');
  assert.is(incremental.initramfs.digest, cold.initramfs.digest, 'incremental and cold builds give the same bytes');
  const list = execFileSync('sh', ['-c', `lz4 -dc ${join(work, 'out-app-warm', incremental.initramfs.name)} | cpio -t --quiet`]).toString().split('\n');
  const baseList = execFileSync('sh', ['-c', `lz4 -dc ${join(work, 'out-base', build(base, 'base', 'warm').initramfs.name)} | cpio -t --quiet`]).toString().split('\n');
  assert.ok(list.includes('app/main.sh'));
  assert.ok(baseList.includes('etc/hostname'), 'the base image has the file the app layer whites out');
  assert.not.ok(list.includes('etc/hostname'), 'the whiteout in the new layer applies to the cached lower layer');
});

test('a cached layer changed on disk is decoded again, and the output stays right', () => {
  const entries = layerEntries('warm');
  const victim = [...entries.keys()][0];
  const data = join(work, 'warm', 'layers', 'v1', victim, 'data');
  const bytes = readFileSync(data);
  bytes[0] ^= 0xff;
  writeFileSync(data, bytes);
  // Another compression: a new build key, so the bundle is really built from the layers again.
  const warm = build(app, 'app-warm-gz', 'warm', 'gzip');
  assert.is.not(layerEntries('warm').get(victim), entries.get(victim), 'the changed layer was decoded again');
  const cold = build(app, 'app-cold-gz', 'cold-gz', 'gzip');
  assert.is(warm.initramfs.digest, cold.initramfs.digest);
});

test.run();
