/**
 * A file over 4 GiB in both disk formats (32-bit sizes and offsets would
 * wrap). Opt-in: it writes ~14 GB of scratch and image data and takes
 * minutes. Run with HB_TEST_LARGE_DISK=1.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { newInode } from '../toolchain/tree/inode.ts';
import { RootfsTree } from '../toolchain/tree/rootfs-tree.ts';
import { writeDiskRootfs } from '../toolchain/disk/write-disk-rootfs.ts';
import { tempDir } from './helpers/places.ts';

const enabled = process.env.HB_TEST_LARGE_DISK === '1';
const CHUNK = Buffer.alloc(64 * 1024 * 1024);
for (let i = 0; i < CHUNK.length; i += 4096) CHUNK.writeUInt32LE(i, i);
const TAIL = Buffer.from('the end, past 4 GiB\n');
const CHUNKS = 72; // 4.5 GiB
const SIZE = CHUNKS * CHUNK.length + TAIL.length;

function tree(): RootfsTree {
  const t = new RootfsTree();
  // One shared chunk repeated: a 4.5 GiB file without 4.5 GiB of RAM.
  const content = [...Array(CHUNKS).fill(CHUNK), TAIL];
  t.root.children!.set('big', { inode: newInode('file', { size: SIZE, content, mtime: 1700000000 }), children: null, layer: 0 });
  return t;
}

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

const expected = () => {
  const h = createHash('sha256');
  for (let i = 0; i < CHUNKS; i++) h.update(CHUNK);
  return h.update(TAIL).digest('hex');
};

for (const kind of ['ext4', 'erofs'] as const) {
  // Minutes of I/O: opt-in, and reported as skipped (not passed) when not asked for.
  (enabled ? test : test.skip)(`${kind}: a ${SIZE} byte file survives`, async () => {
    const work = tempDir('disk-large');
    try {
      const image = join(work, `big.${kind}`);
      await writeDiskRootfs(tree(), kind, image, { tmpDir: join(work, 'tmp') });
      execFileSync(kind === 'ext4' ? 'e2fsck' : 'fsck.erofs', kind === 'ext4' ? ['-fn', image] : [image], { stdio: 'pipe' });
      if (process.getuid?.() !== 0) return;
      const mnt = join(work, 'mnt');
      mkdirSync(mnt);
      execFileSync('mount', ['-o', 'loop,ro', '-t', kind, image, mnt]);
      try {
        assert.is(await sha256Of(join(mnt, 'big')), expected());
      } finally {
        execFileSync('umount', [mnt]);
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

test.run();
