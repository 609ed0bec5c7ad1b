/**
 * bin/hyperbuild's launcher (toolchain/cli/lean/launch.ts) and the V8 code
 * cache it compiles the lean CLI's bundle through (code-cache.ts): an entry is
 * used only by the same bundle file and Node, a corrupted one is never handed
 * to V8, a rebuilt bundle replaces its old entry, an unwritable cache costs
 * nothing but the cache; the built CLI keeps its entries under --cache-dir.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CODE_CACHE_SUBDIR, loadBundle } from '../toolchain/cli/lean/code-cache.ts';
import { LEAN_COMMAND_IDS, codeCacheDir } from '../toolchain/cli/lean/launch.ts';
import { LEAN_COMMANDS } from '../toolchain/cli/lean/main.ts';
import { capYoungGeneration, restoreDefaultFlags } from '../toolchain/cli/lean/young-generation.ts';
import { defaultCacheDir } from '../toolchain/cache/cache-dir.ts';
import { FIXTURES, ROOT, hyperbuild } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';

const work = tempDir('lean-launch');
const bundle = join(work, 'bundle.js');
const cache = join(work, 'cache');
const entries = () => (existsSync(join(cache, CODE_CACHE_SUBDIR)) ? readdirSync(join(cache, CODE_CACHE_SUBDIR)) : []);
// Enough code for V8 to have something to cache; `require` and `__filename` as CommonJS gives them.
const source = (n: number) => `const { basename } = require('node:path');
function add(a, b) { return a + b; }
exports.answer = () => [add(40, ${n}), basename(__filename)];
`;

test('the launcher hands the lean CLI exactly the commands it runs', () => {
  assert.equal([...LEAN_COMMAND_IDS].sort(), Object.keys(LEAN_COMMANDS).sort());
});

test('code cache dir: --cache-dir before `--`, else the default', () => {
  assert.is(codeCacheDir(['boot', '--cache-dir', '/c', 'b']), '/c');
  assert.is(codeCacheDir(['build', '--cache-dir=/d', 'img']), '/d');
  assert.is(codeCacheDir(['build', '--cache-dir', 'rel']), join(process.cwd(), 'rel'));
  assert.is(codeCacheDir(['boot', 'b', '--', 'app', '--cache-dir', '/c'], {}), defaultCacheDir({}));
});

test('code cache: made after the first run, used by the next, per command', () => {
  writeFileSync(bundle, source(2));
  const first = loadBundle(bundle, cache, 'build');
  assert.is(first.cache, 'none');
  assert.equal((first.exports.answer as () => unknown)(), [42, 'bundle.js']);
  assert.equal(entries(), []);
  first.save();
  assert.is(entries().length, 1);
  const second = loadBundle(bundle, cache, 'build');
  assert.is(second.cache, 'used');
  assert.equal((second.exports.answer as () => unknown)(), [42, 'bundle.js']);
  second.save();
  assert.is(entries().length, 1, 'a used entry is not written again');
  assert.is(loadBundle(bundle, cache, 'boot').cache, 'none', 'another command has its own entry');
});

test('code cache: a corrupted entry is not used, and is replaced', () => {
  const [name] = entries();
  const path = join(cache, CODE_CACHE_SUBDIR, name);
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(path, bytes);
  const loaded = loadBundle(bundle, cache, 'build');
  assert.is(loaded.cache, 'none');
  assert.equal((loaded.exports.answer as () => unknown)(), [42, 'bundle.js']);
  loaded.save();
  assert.is(loadBundle(bundle, cache, 'build').cache, 'used');
});

test('code cache: a rebuilt bundle never runs an old entry, and replaces it', () => {
  writeFileSync(bundle, source(300));
  const rebuilt = loadBundle(bundle, cache, 'build');
  assert.is(rebuilt.cache, 'none');
  assert.equal((rebuilt.exports.answer as () => unknown)(), [340, 'bundle.js']);
  rebuilt.save();
  assert.is(entries().filter((e) => e.startsWith('build-')).length, 1);
  assert.is(loadBundle(bundle, cache, 'build').cache, 'used');
});

test('code cache: an unwritable or absent cache only costs the compile', () => {
  const notADir = join(work, 'file');
  writeFileSync(notADir, '');
  const loaded = loadBundle(bundle, notADir, 'build');
  assert.equal((loaded.exports.answer as () => unknown)(), [340, 'bundle.js']);
  loaded.save();
  assert.is(loadBundle(bundle, undefined, 'build').cache, 'none');
});

test('a capped young generation stays small', () => {
  // A fresh process (this one's young generation has grown already): short-lived garbage, then new space's size.
  const probe = (cap: boolean) => {
    const script = `const m = await import(${JSON.stringify(join(ROOT, 'toolchain/cli/lean/young-generation.ts'))});
${cap ? 'm.capYoungGeneration();' : ''}
let keep = [];
for (let i = 0; i < 400000; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }
const v8 = await import('node:v8');
process.stdout.write(String(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    return Number(r.stdout) / (1 << 20);
  };
  const capped = probe(true);
  const grown = probe(false);
  assert.ok(capped <= 4, `capped new space ${capped} MiB`);
  assert.ok(grown > capped, `uncapped ${grown} MiB, capped ${capped} MiB`);
});

test('code cache: made after the young generation was capped, it is still used by a start without the cap', () => {
  // A fresh process with this one's Node options (part of the entry's name) judges the entry: V8 would
  // answer this process from its compilation cache.
  const judge = join(work, 'judge.mts');
  writeFileSync(judge, `const m = await import(${JSON.stringify(join(ROOT, 'toolchain/cli/lean/code-cache.ts'))});
process.stdout.write(m.loadBundle(process.argv[2], process.argv[3], 'build').cache);`);
  const judged = (dir: string) => {
    const r = spawnSync(process.execPath, [...process.execArgv, judge, bundle, dir], { cwd: ROOT, encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    return r.stdout;
  };
  // Made while capped, V8 refuses it at default flags: the flags must be put back first.
  const stale = loadBundle(bundle, join(work, 'cache-stale'), 'build');
  capYoungGeneration();
  stale.save();
  restoreDefaultFlags();
  assert.is(judged(join(work, 'cache-stale')), 'rejected');
  const first = loadBundle(bundle, join(work, 'cache-capped'), 'build');
  capYoungGeneration();
  restoreDefaultFlags();
  first.save();
  assert.is(judged(join(work, 'cache-capped')), 'used');
});

const built = existsSync(join(ROOT, 'dist', 'lean', 'launch.js')) && existsSync(join(FIXTURES, 'busybox', 'index.json'));
test(built ? 'the built lean CLI is ASCII (a one-byte string to read and hash)' : 'built lean CLI (skipped: no dist/)', () => {
  if (!built) return;
  const text = readFileSync(join(ROOT, 'dist', 'lean', 'main.js'), 'latin1');
  const at = text.search(/[^\x00-\x7f]/);
  assert.is(at, -1, `non-ASCII at ${at}: ${text.slice(at - 40, at + 10)}`);
});

test(built ? 'the built CLI keeps its code cache under --cache-dir, output unchanged' : 'built CLI (skipped: no dist/ or fixtures)', () => {
  if (!built) return;
  const cli = join(work, 'cli-cache');
  const args = ['build', `oci:${FIXTURES}/busybox:hello`, '-o', join(work, 'hello'), '--cache-dir', cli, '--json'];
  // The first run builds and makes the entry; the second uses it, the third too: the same no-op output.
  const runs = [hyperbuild(args), hyperbuild(args), hyperbuild(args)];
  for (const r of runs) assert.is(r.status, 0, r.stderr);
  const made = readdirSync(join(cli, CODE_CACHE_SUBDIR));
  assert.is(made.length, 1, made.join(' '));
  assert.match(made[0], /^build-[0-9a-f]{16}-[0-9a-f]{16}\.v8$/);
  const mask = (s: string) => s.replace(/"durationMs": \d+/g, '"durationMs": N');
  assert.is(mask(runs[2].stdout), mask(runs[1].stdout));
});

test.run();
