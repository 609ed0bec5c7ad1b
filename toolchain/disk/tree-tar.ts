/**
 * The tree as a pax tar stream, for tools that can only build a filesystem
 * from a directory: GNU tar unpacks it into a staging directory with every
 * field (owners, modes, devices, hardlinks, xattrs, mtimes). Headers come
 * from our tar writer; file content is streamed chunk by chunk from where the
 * tree keeps it (tree/content.ts), so files of any size (over 4 GiB included)
 * never sit in one Buffer.
 */
import type { ByteString } from '../paths/byte-string.ts';
import { encodeTar } from '../tar/writer.ts';
import { ContentReader } from '../tree/content.ts';
import type { Inode } from '../tree/inode.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';
import { clampTime } from './reproducible-fields.ts';

const BLOCK = 512;

export async function* treeAsTar(tree: RootfsTree, sourceDateEpoch: number | undefined): AsyncGenerator<Buffer> {
  const reader = new ContentReader();
  try {
    yield* entries(tree, sourceDateEpoch, reader);
  } finally {
    reader.close();
  }
}

function* entries(tree: RootfsTree, sourceDateEpoch: number | undefined, reader: ContentReader): Generator<Buffer> {
  const firstPath = new Map<Inode, ByteString>();
  for (const { path, node } of tree.walk()) {
    const inode = node.inode;
    const name: ByteString = path === '' ? './' : `./${path}`;
    const common = { mode: inode.mode, uid: inode.uid, gid: inode.gid, mtime: clampTime(inode.mtime, sourceDateEpoch), xattrs: inode.xattrs };
    const first = firstPath.get(inode);
    if (!node.children && first !== undefined) {
      yield encodeTar([{ entry: { path: name, type: 'hardlink', linkname: first } }], { end: false });
      continue;
    }
    if (!node.children) firstPath.set(inode, name);
    switch (inode.kind) {
      case 'file': {
        // Header only, claiming the real size; the body follows unbuffered.
        yield encodeTar([{ entry: { path: name, type: 'file', size: inode.size, ...common }, raw: { declaredSize: inode.size } }], { end: false });
        yield* reader.chunks(inode);
        const pad = (BLOCK - (inode.size % BLOCK)) % BLOCK;
        if (pad) yield Buffer.alloc(pad);
        break;
      }
      case 'symlink':
        // 0777 as Linux creates every symlink; fakeroot would otherwise record the layer's bits and the image would differ from a root build.
        yield encodeTar([{ entry: { path: name, type: 'symlink', linkname: inode.target, ...common, mode: 0o777 } }], { end: false });
        break;
      case 'chardev':
      case 'blockdev':
        yield encodeTar([{ entry: { path: name, type: inode.kind, devmajor: inode.devmajor, devminor: inode.devminor, ...common } }], { end: false });
        break;
      case 'fifo':
      case 'directory':
        yield encodeTar([{ entry: { path: name, type: inode.kind, ...common } }], { end: false });
        break;
    }
  }
  yield Buffer.alloc(2 * BLOCK);
}
