/**
 * The consumer that matters: a real Linux kernel unpacking our archive, in
 * each compression we produce. Opt-in because it needs a kernel image and
 * takes ~30 s per boot under TCG:
 *
 *   HB_TEST_KERNEL=/path/to/vmlinuz node --import tsx node_modules/uvu/bin.js tests cpio-kernel
 *
 * Needs qemu-system-x86_64 and a static /bin/busybox (Debian: busybox-static).
 * The kernel needs CONFIG_RD_GZIP, CONFIG_RD_ZSTD and CONFIG_RD_LZ4.
 * Besides our hardlink order (data on the first name), it boots a group in
 * GNU cpio's order (data on the last name) to document that the kernel takes
 * that too.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPRESSIONS } from '../toolchain/compress/kinds.ts';
import { compress } from '../toolchain/compress/compress.ts';
import { makeMode, type FileType } from '../toolchain/cpio/file-mode.ts';
import type { CpioHeader } from '../toolchain/cpio/newc-header.ts';
import { writeNewc, type NewcEntry } from '../toolchain/cpio/newc-writer.ts';
import { textToByteString } from '../toolchain/paths/byte-string.ts';
import { resolveKernel } from '../toolchain/kernel/resolve-kernel.ts';
import { defaultCacheDir } from '../toolchain/cache/cache-dir.ts';
import { tempDir } from './helpers/places.ts';

// Any real kernel will do: HB_TEST_KERNEL, else the one builds use (HyperKernel or the Debian cloud kernel).
const KERNEL =
  process.env.HB_TEST_KERNEL ??
  (await resolveKernel({ cacheDir: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir() })).bootPath;
const BUSYBOX = '/bin/busybox';
const MTIME = 1700000000;
const OWNER = 123456;
const SHARED = Buffer.alloc(5001, 'shared-data ');
const BIG = Buffer.alloc(1_000_003, 'big ');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

const INIT = `#!/bin/sh
B=/bin/busybox
$B mount -t proc proc /proc
cd /
echo HB-BEGIN
for f in hl-a dir/hl-b hl-c gnu/a gnu/b gnu/c big setuid; do
  echo "$($B stat -c '%n %i %h %s %a %u %g %Y' $f) $($B md5sum $f | $B cut -d' ' -f1)"
done
$B stat -c '%n %F %t:%T %a' dev/sda1 fifo dev/console
# A shell glob, not ls: busybox ls prints invalid UTF-8 as "?".
echo "names $(echo dir/* | $B od -An -tx1 | $B tr -d ' \\n')"
echo HB-END
$B poweroff -f
`;

function entries(): NewcEntry[] {
  let ino = 100;
  const h = (type: FileType, perm: number, filesize = 0, extra: Partial<CpioHeader> = {}): CpioHeader => ({
    ino: ino++, mode: makeMode(type, perm), uid: 0, gid: 0, nlink: type === 'directory' ? 2 : 1, mtime: MTIME,
    filesize, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0, ...extra,
  });
  const file = (name: string, perm: number, body: Buffer, extra: Partial<CpioHeader> = {}): NewcEntry =>
    ({ name, header: h('file', perm, body.length, extra), body: [body] });
  const group = { ino: 7777, nlink: 3, uid: OWNER, gid: OWNER };
  return [
    ...['.', 'bin', 'dev', 'proc', 'dir'].map((name) => ({ name, header: h('directory', 0o755) })),
    file('bin/busybox', 0o755, readFileSync(BUSYBOX)),
    { name: 'bin/sh', header: h('symlink', 0o777, 7), body: [Buffer.from('busybox')] },
    file('init', 0o755, Buffer.from(INIT)),
    { name: 'dev/console', header: h('chardev', 0o600, 0, { rdevmajor: 5, rdevminor: 1 }) },
    { name: 'dev/sda1', header: h('blockdev', 0o660, 0, { rdevmajor: 8, rdevminor: 1 }) },
    { name: 'fifo', header: h('fifo', 0o620) },
    file('hl-a', 0o640, SHARED, group),
    { name: 'dir/hl-b', header: { ...h('file', 0o640), ...group } },
    { name: 'hl-c', header: { ...h('file', 0o640), ...group } },
    file('big', 0o644, BIG),
    file('setuid', 0o4755, Buffer.from('x')),
    file(textToByteString('dir/héllo'), 0o644, Buffer.from('u')),
    file('dir/bad-\xff', 0o644, Buffer.from('b')),
  ];
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

/** A second, concatenated archive from GNU cpio: its hardlink group has the data on the LAST name. */
function gnuArchive(work: string): Buffer {
  const src = join(work, 'gnu-src');
  mkdirSync(join(src, 'gnu'), { recursive: true });
  writeFileSync(join(src, 'gnu', 'a'), SHARED);
  linkSync(join(src, 'gnu', 'a'), join(src, 'gnu', 'b'));
  linkSync(join(src, 'gnu', 'a'), join(src, 'gnu', 'c'));
  return execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: src, input: 'gnu\ngnu/a\ngnu/b\ngnu/c\n' });
}

const ready = KERNEL !== undefined && existsSync(KERNEL) && existsSync(BUSYBOX);
let work = '';
let archive: Buffer = Buffer.alloc(0);

test.before(async () => {
  if (!ready) return;
  work = tempDir('cpio-kernel');
  archive = Buffer.concat([await collect(writeNewc(entries())), gnuArchive(work)]);
});

test.after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

for (const kind of COMPRESSIONS) {
  test(`Linux unpacks our ${kind} initramfs exactly`, async () => {
    assert.ok(ready, 'needs a kernel, qemu-system-x86 and busybox-static (make deps)');
    const initrd = join(work, `initrd.${kind}`);
    const whole = archive;
    writeFileSync(initrd, await collect(compress(kind, (async function* () { yield whole; })())));
    const run = spawnSync('qemu-system-x86_64', [
      '-M', 'q35', '-accel', 'tcg', '-m', '256', '-nodefaults', '-no-user-config', '-nographic',
      '-serial', 'stdio', '-no-reboot', '-kernel', KERNEL!, '-initrd', initrd,
      '-append', 'console=ttyS0 panic=-1 quiet rdinit=/init',
    ], { timeout: 180_000, maxBuffer: 16 << 20 });
    const out = run.stdout.toString('latin1').replace(/\r/g, '');
    const begin = out.indexOf('HB-BEGIN\n');
    assert.ok(begin >= 0 && out.includes('HB-END'), `init ran and reported:\n${out.slice(-3000)}`);
    const lines = new Map(out.slice(begin).split('\n').map((l) => [l.split(' ')[0]!, l.split(' ')]));
    const stat = (name: string) => {
      const fields = lines.get(name);
      assert.ok(fields, `${name} reported`);
      const [, ino, nlink, size, mode, uid, gid, mtime, sum] = fields!;
      return { ino, nlink, size: Number(size), mode, uid: Number(uid), gid: Number(gid), mtime: Number(mtime), sum };
    };
    const first = stat('hl-a');
    for (const name of ['hl-a', 'dir/hl-b', 'hl-c']) {
      const s = stat(name);
      assert.equal(
        { ino: s.ino, nlink: s.nlink, size: s.size, mode: s.mode, uid: s.uid, gid: s.gid, mtime: s.mtime, sum: s.sum },
        { ino: first.ino, nlink: '3', size: SHARED.length, mode: '640', uid: OWNER, gid: OWNER, mtime: MTIME, sum: md5(SHARED) },
        name,
      );
    }
    for (const name of ['gnu/a', 'gnu/b', 'gnu/c']) {
      assert.is(stat(name).sum, md5(SHARED), `${name}: GNU order keeps the data in this kernel too`);
      assert.is(stat(name).ino, stat('gnu/a').ino);
    }
    assert.is(stat('big').sum, md5(BIG));
    assert.is(stat('setuid').mode, '4755');
    assert.match(out, 'dev/sda1 block special file 8:1 660');
    assert.match(out, 'fifo fifo 0:0 620');
    assert.match(out, 'dev/console character special file 5:1 600');
    const names = lines.get('names')?.[1] ?? '';
    assert.match(names, Buffer.from('bad-\xff', 'latin1').toString('hex'));
    assert.match(names, Buffer.from('héllo').toString('hex'));
  });
}

test.run();
