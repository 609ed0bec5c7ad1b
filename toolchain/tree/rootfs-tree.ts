/**
 * The merged root filesystem as an in-memory tree: lexical path splitting,
 * lookup and parent creation with symlinks resolved inside the root, and a
 * deterministic walk.
 */
import { BadInputError } from '../errors/errors.ts';
import { displayPath, type ByteString } from '../paths/byte-string.ts';
import { newDirNode, type TreeNode } from './inode.ts';

/** A path as errors show it: escaped, and cut in the middle when long (a 40 kB name must not make a 40 kB error line). */
export function shownPath(path: ByteString): string {
  const shown = displayPath(path);
  return shown.length <= 200 ? shown : `${shown.slice(0, 140)}…${shown.slice(-50)} (${path.length} bytes)`;
}

/** Symlink hops allowed while resolving one path, as Linux's MAXSYMLINKS. */
const MAX_SYMLINK_HOPS = 40;

/**
 * Split an archive path into components, lexically resolving `.` and `..`.
 * Leading `/` and `./` are dropped (absolute names land inside the rootfs);
 * a `..` that would climb above the root is refused.
 */
export function pathComponents(path: ByteString, what: string): ByteString[] {
  const out: ByteString[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw new BadInputError(`${what}: '${shownPath(path)}' climbs out of the root filesystem with '..'`);
      out.pop();
    } else {
      if (part.includes('\0')) throw new BadInputError(`${what}: '${shownPath(path)}' contains a NUL byte`);
      out.push(part);
    }
  }
  return out;
}

/** The merged root filesystem: an in-memory tree of nodes, rooted at `/`. */
export class RootfsTree {
  readonly root: TreeNode = newDirNode(-1);

  /**
   * Resolve the directory that holds `components`' last element. Symlinks in
   * the parent chain are followed *inside the tree* (an absolute target means
   * the tree's root; `..` stops at the root), never on the host. Missing
   * parents are created (as `tar -x` does) when `create` is set.
   */
  parentOf(components: ByteString[], what: string, create: { layer: number; mtime: number } | null): TreeNode | null {
    let dir = this.root;
    let hops = 0;
    const stack: TreeNode[] = [];
    const walk = (parts: ByteString[], depthLimit: number): TreeNode | null => {
      for (let i = 0; i < depthLimit; i++) {
        const name = parts[i];
        if (name === '..') {
          dir = stack.pop() ?? this.root;
          continue;
        }
        let child = dir.children!.get(name);
        if (!child) {
          if (!create) return null;
          child = newDirNode(create.layer, { mtime: create.mtime });
          dir.children!.set(name, child);
        }
        if (child.inode.kind === 'symlink') {
          if (++hops > MAX_SYMLINK_HOPS) throw new BadInputError(`${what}: too many levels of symbolic links`);
          const target = child.inode.target;
          if (target.startsWith('/')) {
            dir = this.root;
            stack.length = 0;
          }
          const targetParts = target.split('/').filter((p) => p !== '' && p !== '.');
          if (walk(targetParts, targetParts.length) === null) return null;
          continue;
        }
        if (!child.children) {
          throw new BadInputError(`${what}: '${shownPath(name)}' on its path is a ${child.inode.kind}, not a directory`);
        }
        stack.push(dir);
        dir = child;
      }
      return dir;
    };
    return walk(components, components.length - 1);
  }

  /** The node at `components` without following a final symlink, or null. */
  lookup(components: ByteString[], what: string): TreeNode | null {
    if (components.length === 0) return this.root;
    const parent = this.parentOf(components, what, null);
    return parent?.children!.get(components[components.length - 1]) ?? null;
  }

  /** Visit every node depth-first, parents before children, names in byte order. */
  *walk(): Generator<{ path: ByteString; node: TreeNode }> {
    const stack: { path: ByteString; node: TreeNode }[] = [{ path: '', node: this.root }];
    while (stack.length) {
      const item = stack.pop()!;
      yield item;
      if (item.node.children) {
        // Byte strings hold one byte per UTF-16 unit, so the default (code unit) order is byte order.
        const names = [...item.node.children.keys()].sort();
        for (let i = names.length - 1; i >= 0; i--) {
          const name = names[i];
          stack.push({ path: item.path ? `${item.path}/${name}` : name, node: item.node.children.get(name)! });
        }
      }
    }
  }
}
