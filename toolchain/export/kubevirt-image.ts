/**
 * The kernelBoot image `push --as kubevirt` builds: an ordinary OCI image (not
 * an artifact) with one uncompressed tar layer holding the kernel, the initrd
 * (the bundle's initramfs + the runtime-spec segment, spec-segment.ts) and,
 * for a disk rootfs, the disk, at the paths of kubevirt-layout.ts, owned by
 * KubeVirt's qemu user. Reproducible: entries in a fixed order, mtimes the
 * bundle's SOURCE_DATE_EPOCH (else 0), no `created` time, fixed JSON key
 * order; the same bundle and spec give the same digests. The layer is already
 * compressed where it matters (the initramfs), so it is stored as plain tar,
 * whose digest is also its diff_id.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleManifest } from '../bundle/manifest.ts';
import { bootableKernelBytes } from '../bundle/bootable-kernel.ts';
import type { OpenedBundle } from '../bundle/open-bundle.ts';
import { writeStreamAtomicNamedAfter } from '../fs/atomic.ts';
import { MediaType } from '../image/media-types.ts';
import { BLOCK_SIZE } from '../tar/header.ts';
import { encodeTar } from '../tar/writer.ts';
import { KUBEVIRT_INITRD_PATH, KUBEVIRT_KERNEL_PATH, KUBEVIRT_QEMU_ID, kubevirtDiskPath } from './kubevirt-layout.ts';
import { initrdWithSegment } from './spec-segment.ts';

export const KUBEVIRT_LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar';

export interface LayerFile {
  /** Absolute path inside the image. */
  path: string;
  size: number;
  open: () => AsyncIterable<Buffer>;
}

/** Kernel (unpacked, verified, when the bundle stores it compressed: KubeVirt loads it as it is), initrd with `segment`, and the disk rootfs if any, in this order. */
export function kubevirtLayerFiles(opened: OpenedBundle, segment: Buffer): LayerFile[] {
  const file = (role: string) => opened.files.find((f) => f.role === role);
  const kernel = bootableKernelBytes(opened);
  const initramfs = file('initramfs')!;
  const rootfs = file('rootfs');
  const files: LayerFile[] = [
    { path: KUBEVIRT_KERNEL_PATH, size: kernel.size, open: kernel.open },
    { path: KUBEVIRT_INITRD_PATH, size: initramfs.size + segment.length, open: () => initrdWithSegment(initramfs.path, segment) },
  ];
  if (rootfs && opened.manifest.rootfs) {
    files.push({ path: kubevirtDiskPath(opened.manifest.rootfs.type), size: rootfs.size, open: () => createReadStream(rootfs.path) });
  }
  return files;
}

const owner = { uid: KUBEVIRT_QEMU_ID, gid: KUBEVIRT_QEMU_ID };

/** The layer as tar: parent directories first, then each file's header, body and padding, then the end blocks. */
export async function* layerTar(files: LayerFile[], mtime: number): AsyncGenerator<Buffer> {
  const dirs = [...new Set(files.map((f) => f.path.slice(1, f.path.lastIndexOf('/') + 1)))].sort();
  yield encodeTar(dirs.map((d) => ({ entry: { path: d, type: 'directory' as const, mode: 0o755, mtime, ...owner } })), { end: false });
  for (const f of files) {
    yield encodeTar([{ entry: { path: f.path.slice(1), type: 'file', mode: 0o644, mtime, ...owner }, raw: { declaredSize: f.size } }], { end: false });
    let written = 0;
    for await (const chunk of f.open()) {
      written += chunk.length;
      yield chunk;
    }
    if (written !== f.size) throw new Error(`kubevirt image: ${f.path} changed while it was read (${written} bytes, expected ${f.size})`);
    if (f.size % BLOCK_SIZE) yield Buffer.alloc(BLOCK_SIZE - (f.size % BLOCK_SIZE));
  }
  yield Buffer.alloc(2 * BLOCK_SIZE);
}

export interface WrittenLayer {
  path: string;
  digest: string;
  size: number;
}

/** Write the layer into `dir`, named after its digest. */
export async function writeLayer(dir: string, files: LayerFile[], mtime: number): Promise<WrittenLayer> {
  const hash = createHash('sha256');
  const hashed = async function* () {
    for await (const chunk of layerTar(files, mtime)) {
      hash.update(chunk);
      yield chunk;
    }
  };
  let hex = '';
  const path = await writeStreamAtomicNamedAfter(dir, hashed(), () => (hex = hash.digest('hex')) + '.tar');
  return { path, digest: `sha256:${hex}`, size: (await stat(path)).size };
}

/** The image config: platform from the bundle, the layer's diff_id, labels naming the boot files. */
export function kubevirtImageConfig(m: BundleManifest, layerDigest: string): Buffer {
  const [os, architecture, variant] = m.source.platform.split('/');
  const labels: Record<string, string> = {
    'vnd.hyperbuild.kubevirt.kernel-path': KUBEVIRT_KERNEL_PATH,
    'vnd.hyperbuild.kubevirt.initrd-path': KUBEVIRT_INITRD_PATH,
    'vnd.hyperbuild.bundle.build-key': m.buildKey,
    'vnd.hyperbuild.source.reference': m.source.reference,
  };
  if (m.rootfs) labels['vnd.hyperbuild.kubevirt.disk-path'] = kubevirtDiskPath(m.rootfs.type);
  const config = {
    architecture, os, ...(variant ? { variant } : {}),
    config: { Labels: labels },
    rootfs: { type: 'layers', diff_ids: [layerDigest] },
    history: [{ created_by: 'hyperbuild push --as kubevirt' }],
  };
  return Buffer.from(JSON.stringify(config));
}

export function kubevirtImageManifest(config: { digest: string; size: number }, layer: { digest: string; size: number }): Buffer {
  return Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: config.digest, size: config.size },
    layers: [{ mediaType: KUBEVIRT_LAYER_TYPE, digest: layer.digest, size: layer.size }],
  }));
}

/** Where push writes layers before upload (removed after). */
export const layerDir = (cacheDir: string) => join(cacheDir, 'tmp', 'kubevirt-layers');
