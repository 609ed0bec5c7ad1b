/**
 * Test inputs for registry tests: a tiny OCI image layout (one gzip'd tar
 * layer, config, manifest, optional multi-platform index) that skopeo can
 * copy into a registry, and a fake-but-consistent bundle directory (made by
 * the bundle writer).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BUNDLE_MEDIA_TYPE, BUNDLE_SCHEMA_VERSION, bundleFileList, type BundleManifest } from '../../toolchain/bundle/manifest.ts';
import { writeBundle } from '../../toolchain/bundle/write-bundle.ts';
import { sha256Digest } from '../../toolchain/digest/digest.ts';
import { tempDir } from './places.ts';

export { tempDir };

/** Deterministic pseudo-random bytes, so fixtures are stable between runs. */
export function seededBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < size; off += block.length) {
    block.copy(out, off, 0, Math.min(block.length, size - off));
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

function writeBlob(layout: string, bytes: Buffer): { digest: string; size: number } {
  const digest = sha256Digest(bytes);
  writeFileSync(join(layout, 'blobs', 'sha256', digest.slice(7)), bytes);
  return { digest, size: bytes.length };
}

/** A gzip'd tar holding one file, made reproducibly with GNU tar. */
export function makeLayer(fileName: string, content: string): Buffer {
  const src = tempDir('layer-src');
  try {
    writeFileSync(join(src, fileName), content);
    const tar = execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', '-', '-C', src, fileName]);
    return gzipSync(tar);
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
}

export interface OciLayoutInfo {
  dir: string;
  /** Digest of what index.json points at (image manifest, or the platform index). */
  topDigest: string;
  /** Per platform: image manifest digest, config digest, layer digest. */
  images: { platform: string; manifestDigest: string; configDigest: string; layerDigest: string; layerSize: number }[];
}

/**
 * An OCI layout `dir` with tag `tag`. One platform: index.json points at the
 * image manifest. Several: at an image index listing them.
 */
export function makeOciLayout(dir: string, opts: { platforms?: string[]; tag?: string; content?: string } = {}): OciLayoutInfo {
  const platforms = opts.platforms ?? ['linux/amd64'];
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const images: OciLayoutInfo['images'] = [];
  const descriptors: object[] = [];
  for (const platform of platforms) {
    const [os, architecture, variant] = platform.split('/') as [string, string, string | undefined];
    const layer = makeLayer('hello.txt', `${opts.content ?? 'hello from a test image'} (${platform})\n`);
    const layerBlob = writeBlob(dir, layer);
    const config = {
      created: '2024-01-01T00:00:00Z',
      architecture,
      os,
      ...(variant ? { variant } : {}),
      config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256Digest(execFileSync('gzip', ['-dc'], { input: layer }))] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'test fixture' }],
    };
    const configBlob = writeBlob(dir, Buffer.from(JSON.stringify(config)));
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...configBlob },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layerBlob }],
    };
    const manifestBlob = writeBlob(dir, Buffer.from(JSON.stringify(manifest)));
    images.push({ platform, manifestDigest: manifestBlob.digest, configDigest: configBlob.digest, layerDigest: layerBlob.digest, layerSize: layerBlob.size });
    descriptors.push({ mediaType: manifest.mediaType, ...manifestBlob, platform: { os, architecture, ...(variant ? { variant } : {}) } });
  }
  const tag = { 'org.opencontainers.image.ref.name': opts.tag ?? 'latest' };
  let top: object;
  let topDigest: string;
  if (platforms.length === 1) {
    const { platform: _p, ...d } = descriptors[0] as { platform: unknown };
    void _p;
    top = { ...d, annotations: tag };
    topDigest = images[0]!.manifestDigest;
  } else {
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: descriptors };
    const indexBlob = writeBlob(dir, Buffer.from(JSON.stringify(index)));
    topDigest = indexBlob.digest;
    top = { mediaType: index.mediaType, ...indexBlob, annotations: tag };
  }
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [top] }));
  return { dir, topDigest, images };
}

export interface BundleInfo {
  dir: string;
  bundle: BundleManifest;
  bundleJson: Buffer;
}

/**
 * A bundle directory whose bundle.json matches its files (digests and
 * sizes), not bootable, made by the bundle writer. `rootfsSize` adds an
 * ext4-typed rootfs file.
 */
export async function makeBundleDir(dir: string, opts: { seed?: string; kernelSize?: number; rootfsSize?: number; sourceDateEpoch?: number } = {}): Promise<BundleInfo> {
  const seed = opts.seed ?? 'bundle';
  const src = tempDir('bundle-src');
  const file = (name: string, bytes: Buffer) => {
    writeFileSync(join(src, name), bytes);
    return { name, digest: sha256Digest(bytes), size: bytes.length };
  };
  const bundle: BundleManifest = {
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    mediaType: BUNDLE_MEDIA_TYPE,
    source: {
      reference: 'docker.io/library/busybox:1.36',
      manifestDigest: sha256Digest(`${seed}-manifest`),
      configDigest: sha256Digest(`${seed}-config`),
      platform: 'linux/amd64',
    },
    image: { entrypoint: [], cmd: ['/bin/sh'], env: ['PATH=/bin'], workingDir: '/', user: '', exposedPorts: [], volumes: [], labels: {} },
    kernel: { ...file('vmlinux', seededBytes(`${seed}-kernel`, opts.kernelSize ?? 300_000)), kind: 'hyperkernel', release: '6.1.0-hyper', format: 'vmlinux', pvh: true, modular: false },
    initramfs: { ...file('initramfs.cpio.gz', gzipSync(seededBytes(`${seed}-initramfs`, 50_000))), compression: 'gzip', uncompressedSize: 50_000 },
    cmdline: 'console=hvc0 quiet',
    hyperstart: { version: '1', digest: sha256Digest('hyperstart') },
    rootfsBytes: 50_000,
    sourceDateEpoch: opts.sourceDateEpoch ?? 1_700_000_000,
    buildKey: sha256Digest(`${seed}-build-key`),
  };
  if (opts.rootfsSize) bundle.rootfs = { ...file('rootfs.ext4', seededBytes(`${seed}-rootfs`, opts.rootfsSize)), type: 'ext4' };
  const bundleJson = Buffer.from(`${JSON.stringify(bundle, null, 2)}\n`);
  try {
    await writeBundle(dir, bundleFileList(bundle).map((f) => ({ name: f.name, from: join(src, f.name) })), bundleJson, 'bundle');
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
  return { dir, bundle, bundleJson };
}
