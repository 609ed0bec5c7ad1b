/**
 * HyperStart's own files in the initramfs: /.hyperstart/init, spec and kernel modules.
 */
import { textToByteString } from '../paths/byte-string.ts';
import { RESERVED_TOP_LEVEL } from '../tree/apply-layer.ts';
import { newDirNode, newInode, type TreeNode } from '../tree/inode.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';

export interface HyperStartPayload {
  /** The static HyperStart binary. */
  init: Buffer;
  /** Encoded spec records (toolchain/hyperstart/spec.ts). */
  spec: Buffer;
  /** Kernel modules for modular kernels, by file name. */
  modules: { name: string; content: Buffer }[];
}

function file(content: Buffer, mode: number, mtime: number): TreeNode {
  return { inode: newInode('file', { mode, content: [content], size: content.length, mtime }), children: null, layer: Infinity };
}

/**
 * Place HyperStart under the reserved /.hyperstart (see PROTOCOL.md). The
 * image cannot contain that name (apply-layer refuses it), so nothing collides.
 */
export function addHyperStart(tree: RootfsTree, payload: HyperStartPayload, mtime: number): void {
  const dir = newDirNode(Infinity, { mode: 0o755, mtime });
  dir.children!.set('init', file(payload.init, 0o755, mtime));
  dir.children!.set('spec', file(payload.spec, 0o644, mtime));
  if (payload.modules.length) {
    const modules = newDirNode(Infinity, { mode: 0o755, mtime });
    for (const m of payload.modules) modules.children!.set(textToByteString(m.name), file(m.content, 0o644, mtime));
    dir.children!.set('modules', modules);
  }
  tree.root.children!.set(RESERVED_TOP_LEVEL, dir);
}
