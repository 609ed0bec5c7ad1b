/**
 * `hyperbuild cache prune --build/--all` (cache/cache-areas.ts): a dry run
 * lists each area with its disk use and removes nothing; a real one removes
 * exactly its level's areas, and the next build, cold again, writes the same
 * bytes. Every area the code writes under the cache dir is listed (pruned or
 * kept on purpose), so a new one cannot grow unseen.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CACHE_AREAS, KEPT_AREAS } from '../toolchain/cache/cache-areas.ts';
import { FIXTURES, hyperbuild } from './helpers/cli.ts';
import { REPO, tempDir } from './helpers/places.ts';

const work = tempDir('cache-prune');
const cache = join(work, 'cache');
const hello = `oci:${join(FIXTURES, 'busybox')}:hello`;

function build(out: string): { digest: string; stderr: string } {
  const r = hyperbuild(['build', hello, '--compression', 'lz4', '--cache-dir', cache, '-o', join(work, out)]);
  assert.is(r.status, 0, r.stderr);
  return { digest: JSON.parse(readFileSync(join(cache, '..', out, 'bundle.json'), 'utf8')).initramfs.digest, stderr: r.stderr };
}

function prune(...args: string[]): { areas: { name: string; diskBytes: number }[]; freedBytes: number; dryRun: boolean } {
  const r = hyperbuild(['cache', 'prune', '--cache-dir', cache, '--json', ...args]);
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('--build: listed with disk use, removed, and the cold rebuild gives the same bytes', () => {
  const first = build('a');
  for (const d of ['bundles/built-x', 'blobs/sha256']) mkdirSync(join(cache, d), { recursive: true });
  writeFileSync(join(cache, 'blobs/sha256/ab'), 'x');
  const dry = prune('--build', '--dry-run');
  const names = dry.areas.map((a) => a.name);
  for (const n of ['layers', 'pieces', 'initramfs', 'digest-memo']) assert.ok(names.includes(n), `${n} listed: ${names}`);
  assert.not.ok(names.includes('blobs') || names.includes('bundles'), 'pulled blobs and bundles are --all only');
  assert.ok(dry.areas.find((a) => a.name === 'layers')!.diskBytes > 0 && dry.freedBytes > 0);
  assert.ok(existsSync(join(cache, 'layers')), 'a dry run removes nothing');

  const real = prune('--build');
  assert.is(real.dryRun, false);
  for (const n of names) assert.not.ok(existsSync(join(cache, n)), `${n} removed`);
  assert.ok(existsSync(join(cache, 'blobs/sha256/ab')) && existsSync(join(cache, 'bundles/built-x')), '--build keeps --all areas');

  const again = build('b');
  assert.not.match(again.stderr, /decoded before/, 'the layers were decoded again');
  assert.is(again.digest, first.digest);
});

test('--all: pulled blobs and bundles go too; the templates-only default leaves build areas', () => {
  build('c');
  assert.equal(prune().areas, []);
  assert.ok(existsSync(join(cache, 'layers')));
  const all = prune('--all');
  for (const n of ['blobs', 'bundles', 'layers']) {
    assert.ok(all.areas.some((a) => a.name === n), `${n} pruned by --all`);
    assert.not.ok(existsSync(join(cache, n)));
  }
});

/** Names of cache-dir areas the sources create: `join(…cacheDir, 'NAME'` and `…_DIR = 'NAME'` (BlobStore's `blobs` is listed by hand). */
function areasInSources(dir: string, found = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) areasInSources(p, found);
    else if (p.endsWith('.ts')) {
      const text = readFileSync(p, 'utf8');
      for (const m of text.matchAll(/join\(\s*[\w.]*cacheDir\s*,\s*'([a-z][a-z-]*)'|[A-Z_]*(?:SUBDIR|_DIR)\s*=\s*'([a-z][a-z-]*)'/g)) found.set(m[1] ?? m[2], relative(REPO, p));
    }
  }
  return found;
}

test('every cache area the code writes is pruned or kept on purpose', () => {
  const listed = new Set([...CACHE_AREAS.map((a) => a.name), ...Object.keys(KEPT_AREAS)]);
  const found = areasInSources(join(REPO, 'toolchain'));
  for (const n of ['layers', 'pieces', 'templates', 'unpacked-kernels']) assert.ok(found.has(n), `the scan finds ${n}`);
  const unlisted = [...found].filter(([n]) => !listed.has(n)).map(([n, where]) => `${n} (${where})`);
  assert.equal(unlisted, [], 'list these in toolchain/cache/cache-areas.ts');
  assert.ok(statSync(join(REPO, 'toolchain/cache/cache-areas.ts')).isFile());
});

test.run();
