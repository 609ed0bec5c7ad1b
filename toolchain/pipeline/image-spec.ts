/**
 * The HyperStart spec a build writes: the image's runtime config, xattrs and modules as spec records.
 */
import type { ImageRuntimeConfig } from '../bundle/manifest.ts';
import type { HyperStartSpec } from '../hyperstart/spec.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';

/** xattrs of the tree as spec records: newc cannot carry them, HyperStart applies them at boot. */
export function treeXattrs(tree: RootfsTree): NonNullable<HyperStartSpec['xattrs']> {
  const out: NonNullable<HyperStartSpec['xattrs']> = [];
  for (const { path, node } of tree.walk()) {
    const names = [...node.inode.xattrs.keys()].sort();
    for (const name of names) out.push({ path: `/${path}`, name, value: node.inode.xattrs.get(name)! });
  }
  return out;
}

/** The spec written into the initramfs: what the image would run with no overrides. */
export function imageSpec(image: ImageRuntimeConfig, tree: RootfsTree, modules: string[]): HyperStartSpec {
  return {
    args: [...image.entrypoint, ...image.cmd],
    env: image.env,
    workdir: image.workingDir || undefined,
    user: image.user || undefined,
    modules,
    xattrs: treeXattrs(tree),
  };
}
