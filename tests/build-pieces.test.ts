/**
 * The piece cache by reference (toolchain/cache/piece-cache.ts): compressed
 * pieces are not stored a second time, their records point into the cached
 * initramfs that holds them, a build whose archive has the same pieces copies
 * them from there, and a cached initramfs changed after its records were
 * written is not trusted: its pieces are compressed again and the output
 * stays right. --max-rootfs-size changes the build key but not one byte of
 * the archive, so it makes a second build of the same pieces.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, hyperbuild } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';

const kernelCache = process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? join(process.env.HOME ?? '/root', '.cache', 'hyperbuild');
const work = tempDir('build-pieces');

interface Record {
  key: string;
  file: string;
  offset: number;
  length: number;
}

function build(out: string, cache: string, compression: string, maxSize: string): { initramfs: { name: string; digest: string } } {
  const args = ['build', `oci:${FIXTURES}/busybox:latest`, '-o', join(work, out), '--cache-dir', join(work, cache), '--compression', compression, '--max-rootfs-size', maxSize, '--json'];
  const r = hyperbuild(args, { env: { HYPERBUILD_KERNEL_CACHE_DIR: kernelCache } });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(readFileSync(join(work, out, 'bundle.json'), 'utf8'));
}

/** Every piece record of the cache, for the variant of `compression`. */
function records(cache: string, compression: string): Record[] {
  const root = join(work, cache, 'pieces');
  const variant = readdirSync(root).find((v) => v.startsWith(compression));
  assert.ok(variant, `a ${compression} variant in ${readdirSync(root)}`);
  const names = readdirSync(join(root, variant!)).filter((n) => !n.startsWith('.'));
  assert.ok(names.every((n) => n.endsWith('.json')), `only records, no compressed copies: ${names}`);
  return names.map((n) => JSON.parse(readFileSync(join(root, variant!, n), 'utf8')) as Record);
}

for (const compression of ['lz4', 'gzip']) {
  test(`${compression}: pieces are found in the cached initramfs, a changed one is compressed again`, () => {
    const cache = `cache-${compression}`;
    const first = build(`${compression}-1`, cache, compression, '2G');
    const made = records(cache, compression);
    assert.ok(made.length >= 1);
    const holder = made[0].file;
    assert.ok(made.every((r) => r.file === holder), 'every record points into the one cached initramfs');
    const archive = readFileSync(join(work, `${compression}-1`, first.initramfs.name));
    for (const r of made) assert.ok(r.offset + r.length <= archive.length, `${r.key} lies inside the archive`);

    const second = build(`${compression}-2`, cache, compression, '1G');
    assert.is(second.initramfs.digest, first.initramfs.digest, 'same pieces, same bytes');
    assert.equal(records(cache, compression), made, 'reused from where they are, records unchanged');

    // Same length, other bytes: the holder's stat identity changes, so its pieces are no longer trusted.
    const bytes = readFileSync(holder);
    bytes.fill(0, made[0].offset, made[0].offset + made[0].length);
    writeFileSync(holder, bytes);
    const third = build(`${compression}-3`, cache, compression, '1500M');
    assert.is(third.initramfs.digest, first.initramfs.digest, 'made again from the tree: the same bytes');
    const after = records(cache, compression);
    assert.ok(after.every((r) => r.file !== holder), 'records now point into the new archive');
  });
}

test.run();
