/**
 * The part of a build a no-op never runs: merge the image's layers into one
 * tree, then write the compressed initramfs (and, for a disk rootfs, the
 * ext4/erofs image) into the cache under the build key. build-bundle.ts
 * loads this module only when the bundle is not up to date, so a no-op
 * build does not parse the tar reader, the tree, the cpio writer or the
 * compressors.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { INITRAMFS_FILE_NAMES } from '../bundle/manifest.ts';
import { compress } from '../compress/compress.ts';
import { writeDiskRootfs } from '../disk/write-disk-rootfs.ts';
import { writeFileAtomic, writeStreamAtomic } from '../fs/atomic.ts';
import { encodeSpec } from '../hyperstart/spec.ts';
import { assembleInitramfs } from '../initramfs/assemble.ts';
import { addHyperStart } from '../initramfs/hyperstart-files.ts';
import { applyLayer, type LayerLimits } from '../tree/apply-layer.ts';
import { RootfsTree } from '../tree/rootfs-tree.ts';
import { AUTO_DISK_THRESHOLD, cacheKeyHex, type BuildContext, type CachedInitramfs } from './build-context.ts';
import { imageSpec } from './image-spec.ts';

/** HyperStart finds the root disk as the first virtio-blk device. */
const ROOT_DISK_DEVICE = '/dev/vda';

/** Merge the layers, then write the compressed initramfs (and the disk, for disk rootfs) into the cache. */
export async function buildRootfsArtifacts(ctx: BuildContext, report: (line: string) => void): Promise<CachedInitramfs> {
  const { opts } = ctx;
  const image = ctx.image!;
  const tree = new RootfsTree();
  const limits: LayerLimits = { maxBytes: opts.maxRootfsSize, bytesSoFar: 0 };
  const layers = image.layers();
  for (let i = 0; i < layers.length; i++) {
    report(`applying ${layers[i].label}`);
    await applyLayer(tree, layers[i].members(), i, layers[i].label, limits);
  }
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

  report(`writing initramfs (${opts.compression})`);
  const dir = join(opts.cacheDir, 'initramfs');
  const final = join(dir, `${cacheKeyHex(ctx.key!)}.cpio${INITRAMFS_FILE_NAMES[opts.compression].slice('initramfs.cpio'.length)}`);
  let uncompressedSize = 0;
  const counted = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      uncompressedSize += chunk.length;
      yield chunk;
    }
  };
  await writeStreamAtomic(final, compress(opts.compression, counted(assembleInitramfs(initramfsTree, { sourceDateEpoch: opts.sourceDateEpoch }))));
  const { digest, size } = await ctx.memo!.digest(final);
  const meta: CachedInitramfs = { path: final, digest, size, uncompressedSize, rootfsBytes: limits.bytesSoFar, disk };
  // Written last: the entry counts only once both files are complete.
  await writeFileAtomic(join(dir, `${cacheKeyHex(ctx.key!)}.json`), JSON.stringify(meta));
  return meta;
}
