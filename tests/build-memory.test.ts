/**
 * Bounded memory (issue 15): a build of an image with one 1 GiB file and
 * 20,000 small files stays under 160 MiB peak RSS, measured by GNU time over
 * the whole process tree (the compressor, mkfs and debugfs included), as an
 * initramfs and as an ext4 disk, and two builds with separate caches give
 * the same bytes. The big file is mostly zeros with a
 * stamp in every MiB (cheap to generate, gzip and keep), but every byte of it
 * is inflated, hashed and archived: the test reads the initramfs back and
 * checks the file's digest.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { readNewc } from '../toolchain/cpio/newc-reader.ts';
import { encodeTar, type TarWriteMember } from '../toolchain/tar/writer.ts';
import { BIN } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';

const BOUND_KIB = 160 * 1024;
const MIB = 1 << 20;
const BIG_SIZE = 1024 * MIB;
const SMALL_FILES = 20_000;
const kernelCache = process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? join(process.env.HOME ?? '/root', '.cache', 'hyperbuild');
const work = tempDir('build-memory');
const layout = join(work, 'image');

/** MiB number `i` of the big file: zeros with the index and its square at the front. */
function bigBlock(i: number): Buffer {
  const b = Buffer.alloc(MIB);
  b.writeUInt32LE(i, 0);
  b.writeUInt32LE((i * i) >>> 0, 4);
  return b;
}

async function* bigLayerTar(): AsyncGenerator<Buffer> {
  yield encodeTar([{ entry: { path: 'data', type: 'directory', mode: 0o755 } }, { entry: { path: 'data/big', type: 'file', mode: 0o644, mtime: 1700000000 }, raw: { declaredSize: BIG_SIZE } }], { end: false });
  for (let i = 0; i < BIG_SIZE / MIB; i++) yield bigBlock(i);
  yield Buffer.alloc(1024);
}

function smallLayerTar(): Buffer {
  const members: TarWriteMember[] = [];
  for (let d = 0; d < 200; d++) members.push({ entry: { path: `small/d${d}`, type: 'directory', mode: 0o755 } });
  for (let i = 0; i < SMALL_FILES; i++) {
    const data = Buffer.from(`file ${i} `.repeat(1 + (i % 300)));
    members.push({ entry: { path: `small/d${i % 200}/f${i}`, type: 'file', mode: 0o644, mtime: 1700000000 + i }, data });
  }
  return encodeTar(members);
}

/** Gzip `tar` into the layout's blobs; returns the layer descriptor and diff_id. */
async function gzipLayer(tar: AsyncIterable<Buffer>): Promise<{ digest: string; size: number; diffId: string }> {
  const diff = createHash('sha256');
  const blob = createHash('sha256');
  let size = 0;
  const tmp = join(layout, 'blobs', 'sha256', 'tmp');
  const hashed = async function* () {
    for await (const chunk of tar) {
      diff.update(chunk);
      yield chunk;
    }
  };
  const counted = async function* (gz: AsyncIterable<Buffer>) {
    for await (const chunk of gz) {
      blob.update(chunk);
      size += chunk.length;
      yield chunk;
    }
  };
  await pipeline(hashed, createGzip({ level: 1 }), counted, createWriteStream(tmp));
  const digest = `sha256:${blob.digest('hex')}`;
  execFileSync('mv', [tmp, join(layout, 'blobs', 'sha256', digest.slice(7))]);
  return { digest, size, diffId: `sha256:${diff.digest('hex')}` };
}

function putJson(value: unknown): { digest: string; size: number } {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  writeFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), bytes);
  return { digest, size: bytes.length };
}

async function makeImage(): Promise<void> {
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const layers = [await gzipLayer(bigLayerTar()), await gzipLayer((async function* () { yield smallLayerTar(); })())];
  const config = putJson({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/true'] }, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } });
  const manifest = putJson({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  });
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
}

/** Build with GNU time watching; returns the bundle's manifest and the peak RSS in KiB. */
function measuredBuild(name: string, rootfs = 'initramfs'): { manifest: { initramfs: { name: string; digest: string; uncompressedSize: number }; rootfs?: { size: number } }; peakKiB: number } {
  const out = join(work, `out-${name}`);
  const rss = join(work, `rss-${name}`);
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', rss, BIN, 'build', `oci:${layout}:latest`, '-o', out, '--cache-dir', join(work, `cache-${name}`), '--rootfs', rootfs, '--source-date-epoch', '1700000000', '--json'], {
    env: { ...process.env, HYPERBUILD_KERNEL_CACHE_DIR: kernelCache },
    encoding: 'utf8',
    timeout: 600_000,
  });
  assert.is(r.status, 0, r.stderr);
  return { manifest: JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8')), peakKiB: Number(readFileSync(rss, 'utf8').trim().split('\n').pop()) };
}

/** sha256 of data/big and the number of small files, read back from the initramfs with the system's lz4. */
async function readBack(name: string, file: string): Promise<{ big: string; small: number }> {
  const lz4 = spawn('lz4', ['-dc', join(work, `out-${name}`, file)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let big = '';
  let small = 0;
  for await (const e of readNewc(lz4.stdout as AsyncIterable<Buffer>, 'initramfs')) {
    if (e.name === 'data/big') {
      const h = createHash('sha256');
      for await (const c of e.body) h.update(c);
      big = h.digest('hex');
    } else if (e.name.startsWith('small/d') && e.name.includes('/f')) small++;
  }
  return { big, small };
}

test('one 1 GiB file and 20,000 small files: peak RSS under 160 MiB, reproducible, every byte archived', async () => {
  await makeImage();
  const first = measuredBuild('a');
  const second = measuredBuild('b');
  process.stderr.write(`peak RSS: ${(first.peakKiB / 1024).toFixed(0)} MiB and ${(second.peakKiB / 1024).toFixed(0)} MiB (bound ${BOUND_KIB / 1024} MiB)\n`);
  assert.ok(first.peakKiB < BOUND_KIB, `first build peaked at ${first.peakKiB} KiB`);
  assert.ok(second.peakKiB < BOUND_KIB, `second build peaked at ${second.peakKiB} KiB`);
  assert.ok(first.manifest.initramfs.uncompressedSize > BIG_SIZE);
  assert.is(second.manifest.initramfs.digest, first.manifest.initramfs.digest, 'separate caches, same bytes');

  const expected = createHash('sha256');
  for (let i = 0; i < BIG_SIZE / MIB; i++) expected.update(bigBlock(i));
  const back = await readBack('a', first.manifest.initramfs.name);
  assert.is(back.big, expected.digest('hex'));
  assert.is(back.small, SMALL_FILES);
});

test('the same image on an ext4 disk rootfs (what --rootfs auto picks for it): peak RSS under 160 MiB', () => {
  const disk = measuredBuild('ext4', 'auto');
  process.stderr.write(`peak RSS, ext4: ${(disk.peakKiB / 1024).toFixed(0)} MiB\n`);
  assert.ok((disk.manifest.rootfs?.size ?? 0) > BIG_SIZE, 'an ext4 disk holding the big file');
  assert.ok(disk.peakKiB < BOUND_KIB, `the ext4 build peaked at ${disk.peakKiB} KiB`);
});

test.run();
