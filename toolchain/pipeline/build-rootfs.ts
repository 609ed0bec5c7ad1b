/**
 * The part of a build a no-op never runs: decode the image's layers (or take
 * them from the layer cache), merge them into one tree of metadata, then
 * write the compressed initramfs (and, for a disk rootfs, the ext4/erofs
 * image) into the cache under the build key. build-bundle.ts
 * loads this module only when the bundle is not up to date, so a no-op
 * build does not parse the tar reader, the tree, the cpio writer or the
 * compressors.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { INITRAMFS_FILE_NAMES } from '../bundle/manifest.ts';
import { resolveCompression } from '../compress/kinds.ts';
import { writeDiskRootfs } from '../disk/write-disk-rootfs.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { encodeSpec } from '../hyperstart/spec.ts';
import { addHyperStart } from '../initramfs/hyperstart-files.ts';
import { readDecodedLayer } from '../layers/decoded-layer.ts';
import { applyPlacedLayer, type LayerLimits } from '../tree/apply-layer.ts';
import type { LayerInput } from '../source/image-source.ts';
import { RootfsTree } from '../tree/rootfs-tree.ts';
import { AUTO_DISK_THRESHOLD, cacheKeyHex, type BuildContext, type CachedInitramfs } from './build-context.ts';
import { decodeLayers, type LayerDecoding } from './decode-layers.ts';
import { imageSpec } from './image-spec.ts';
import { writeInitramfs } from './write-initramfs.ts';

/** HyperStart finds the root disk as the first virtio-blk device. */
const ROOT_DISK_DEVICE = '/dev/vda';

/** The image's layers merged into one tree: decoded (or taken from the layer cache) in parallel, applied in order. */
async function mergeLayers(layers: LayerInput[], decoding: LayerDecoding, limits: LayerLimits, report: (line: string) => void): Promise<RootfsTree> {
  const tree = new RootfsTree();
  for (let i = 0; i < layers.length; i++) {
    const dir = await decoding.layer(i);
    report(`applying ${layers[i].label}${decoding.reused.has(i) ? ' (decoded before)' : ''}`);
    applyPlacedLayer(tree, await readDecodedLayer(dir, layers[i].diffId), i, layers[i].label, limits);
  }
  return tree;
}

/** Merge the layers, then write the compressed initramfs (and the disk, for disk rootfs) into the cache. */
export async function buildRootfsArtifacts(ctx: BuildContext, report: (line: string) => void): Promise<CachedInitramfs> {
  const { opts } = ctx;
  const limits: LayerLimits = { maxBytes: opts.maxRootfsSize, bytesSoFar: 0 };
  const layers = ctx.image!.layers();
  const decoding = decodeLayers(layers, { cacheDir: opts.cacheDir, maxBytes: opts.maxRootfsSize, report });
  try {
    const tree = await mergeLayers(layers, decoding, limits, report);
    return await writeArtifacts(ctx, tree, limits, report);
  } finally {
    // After the writers: the tree's contents are read from the decoded layers.
    await decoding.close();
  }
}

async function writeArtifacts(ctx: BuildContext, tree: RootfsTree, limits: LayerLimits, report: (line: string) => void): Promise<CachedInitramfs> {
  const { opts } = ctx;
  const image = ctx.image!;
  const kernel = ctx.kernel!;
  const moduleFiles = await Promise.all(kernel.modules.map(async (m) => ({ name: `${m.name}.ko`, content: await readFile(m.hostPath) })));
  const modulePaths = moduleFiles.map((m) => `/.hyperstart/modules/${m.name}`);
  const mtime = opts.sourceDateEpoch ?? 0;
  const diskKind = opts.rootfs === 'auto' ? (limits.bytesSoFar > AUTO_DISK_THRESHOLD ? 'ext4' : undefined) : opts.rootfs === 'initramfs' ? undefined : opts.rootfs;
  let disk: CachedInitramfs['disk'];
  let initramfsTree = tree;
  let spec = imageSpec(image.config.runtime, tree, modulePaths);
  if (diskKind) {
    report(`writing ${diskKind} root filesystem`);
    const diskPath = join(opts.cacheDir, 'initramfs', `${cacheKeyHex(ctx.key!)}.${diskKind}`);
    await mkdir(join(opts.cacheDir, 'initramfs'), { recursive: true });
    disk = { path: diskPath, type: diskKind, ...(await writeDiskRootfs(tree, diskKind, diskPath, { sourceDateEpoch: opts.sourceDateEpoch, tmpDir: join(opts.cacheDir, 'tmp') })) };
    // The initramfs then holds only HyperStart; the disk already carries the xattrs.
    initramfsTree = new RootfsTree();
    spec = { ...imageSpec(image.config.runtime, initramfsTree, modulePaths), rootDisk: { device: ROOT_DISK_DEVICE, fsType: diskKind } };
  }
  addHyperStart(initramfsTree, { init: ctx.hyperstart!.bytes, spec: encodeSpec(spec), modules: moduleFiles }, mtime);

  const fileBytes = (disk ? 0 : limits.bytesSoFar) + ctx.hyperstart!.bytes.length + moduleFiles.reduce((n, m) => n + m.content.length, 0);
  const compression = resolveCompression(opts.compression, fileBytes);
  report(`writing initramfs (${compression})`);
  const dir = join(opts.cacheDir, 'initramfs');
  const final = join(dir, `${cacheKeyHex(ctx.key!)}.cpio${INITRAMFS_FILE_NAMES[compression].slice('initramfs.cpio'.length)}`);
  const uncompressedSize = await writeInitramfs(initramfsTree, compression, final, { cacheDir: opts.cacheDir, sourceDateEpoch: opts.sourceDateEpoch });
  const { digest, size } = await ctx.memo!.digest(final);
  const meta: CachedInitramfs = { path: final, digest, size, compression, uncompressedSize, rootfsBytes: limits.bytesSoFar, disk };
  // Written last: the entry counts only once both files are complete.
  await writeFileAtomic(join(dir, `${cacheKeyHex(ctx.key!)}.json`), JSON.stringify(meta));
  return meta;
}
