/**
 * toolchain/fs/atomic.ts: a write either lands whole or not at all, a failed
 * one leaves neither a temp file nor damage to what was there, modes apply
 * from the first byte, and the directory replace policies refuse what they
 * should.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  placeDirOnce,
  replaceDirAtomic,
  tempPathBeside,
  writeFileAtomic,
  writeFileAtomicSync,
  writeStreamAtomic,
  writeStreamAtomicNamedAfter,
} from '../toolchain/fs/atomic.ts';
import { rejectsBadInput } from './helpers/bad-input.ts';
import { tempDir } from './helpers/places.ts';

const work = tempDir('fs-atomic');
let n = 0;
/** A fresh empty directory per test, so listing it shows exactly what a write left. */
const fresh = () => {
  const dir = join(work, `t${n++}`);
  mkdirSync(dir);
  return dir;
};

async function* failingAfter(chunks: string[]): AsyncIterable<Buffer> {
  for (const c of chunks) yield Buffer.from(c);
  throw new Error('source broke');
}

async function rejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`expected a failure matching ${re}`);
}

test('tempPathBeside: same directory, hidden, unique', () => {
  const a = tempPathBeside('/x/y/file');
  assert.match(a, /^\/x\/y\/\.file\.tmp-\d+-[0-9a-f]{8}$/);
  assert.is.not(a, tempPathBeside('/x/y/file'));
});

test('writeFileAtomic replaces content and applies the mode from the first byte', async () => {
  const dir = fresh();
  const file = join(dir, 'secret.json');
  writeFileSync(file, 'old', { mode: 0o644 });
  await writeFileAtomic(file, 'new', { mode: 0o600 });
  assert.is(readFileSync(file, 'utf8'), 'new');
  assert.is(statSync(file).mode & 0o777, 0o600);
  assert.equal(readdirSync(dir), ['secret.json']);
});

test('writeFileAtomic makes missing parent directories', async () => {
  const file = join(fresh(), 'a', 'b', 'c.txt');
  await writeFileAtomic(file, 'x');
  assert.is(readFileSync(file, 'utf8'), 'x');
});

test('a failed rename leaves no temp file and the target as it was', async () => {
  const dir = fresh();
  const target = join(dir, 'busy');
  mkdirSync(target);
  writeFileSync(join(target, 'inside'), 'keep');
  await rejects(() => writeFileAtomic(target, 'data'), /EISDIR|ENOTEMPTY|EEXIST|ENOTDIR/);
  assert.equal(readdirSync(dir), ['busy']);
  assert.is(readFileSync(join(target, 'inside'), 'utf8'), 'keep');
});

test('writeFileAtomicSync replaces content; a failed rename leaves no temp file and the target as it was', () => {
  const dir = fresh();
  writeFileAtomicSync(join(dir, 'f'), 'one');
  writeFileAtomicSync(join(dir, 'f'), 'two');
  assert.is(readFileSync(join(dir, 'f'), 'utf8'), 'two');
  mkdirSync(join(dir, 'busy'));
  writeFileSync(join(dir, 'busy', 'inside'), 'keep');
  assert.throws(() => writeFileAtomicSync(join(dir, 'busy'), 'data'), /EISDIR|ENOTEMPTY|EEXIST|ENOTDIR/);
  assert.equal(readdirSync(dir).sort(), ['busy', 'f']);
  assert.is(readFileSync(join(dir, 'busy', 'inside'), 'utf8'), 'keep');
});

test('writeStreamAtomic: a stream that fails midway keeps the old content and leaves no temp file', async () => {
  const dir = fresh();
  const file = join(dir, 'blob');
  writeFileSync(file, 'old content');
  await rejects(() => writeStreamAtomic(file, failingAfter(['partial ', 'bytes'])), /source broke/);
  assert.is(readFileSync(file, 'utf8'), 'old content');
  assert.equal(readdirSync(dir), ['blob']);
  await writeStreamAtomic(file, [Buffer.from('new '), Buffer.from('content')]);
  assert.is(readFileSync(file, 'utf8'), 'new content');
  assert.equal(readdirSync(dir), ['blob']);
});

test('writeStreamAtomicNamedAfter names the file only after the last byte', async () => {
  const dir = fresh();
  let seen = 0;
  const source = (async function* () {
    for (const c of ['ab', 'cd']) {
      seen += c.length;
      yield Buffer.from(c);
    }
  })();
  const path = await writeStreamAtomicNamedAfter(dir, source, () => `len-${seen}`);
  assert.is(path, join(dir, 'len-4'));
  assert.equal(readdirSync(dir), ['len-4']);
  assert.is(readFileSync(path, 'utf8'), 'abcd');
});

test('writeStreamAtomicNamedAfter: a failing source or a bad name leaves nothing', async () => {
  const dir = fresh();
  let asked = false;
  await rejects(() => writeStreamAtomicNamedAfter(dir, failingAfter(['x']), () => { asked = true; return 'never'; }), /source broke/);
  assert.is(asked, false, 'the name is not asked for when the write failed');
  await rejects(() => writeStreamAtomicNamedAfter(dir, [Buffer.from('x')], () => '../escape'), /not a file name/);
  await rejects(() => writeStreamAtomicNamedAfter(dir, [Buffer.from('x')], () => ''), /not a file name/);
  assert.equal(readdirSync(dir), []);
});

test('replaceDirAtomic creates, then replaces a directory holding the marker', async () => {
  const target = join(fresh(), 'bundle');
  await replaceDirAtomic(target, async (tmp) => writeFileSync(join(tmp, 'bundle.json'), '1'), { marker: 'bundle.json' });
  assert.is(readFileSync(join(target, 'bundle.json'), 'utf8'), '1');
  await replaceDirAtomic(target, async (tmp) => writeFileSync(join(tmp, 'bundle.json'), '2'), { marker: 'bundle.json' });
  assert.equal(readdirSync(target), ['bundle.json']);
  assert.is(readFileSync(join(target, 'bundle.json'), 'utf8'), '2');
  assert.equal(readdirSync(join(target, '..')), ['bundle'], 'no temp or old directory left');
});

test('replaceDirAtomic: a failed fill keeps the previous directory and leaves no temp', async () => {
  const parent = fresh();
  const target = join(parent, 'bundle');
  mkdirSync(target);
  writeFileSync(join(target, 'bundle.json'), 'previous');
  await rejects(() => replaceDirAtomic(target, async (tmp) => {
    writeFileSync(join(tmp, 'bundle.json'), 'half');
    throw new Error('fill failed');
  }, { marker: 'bundle.json' }), /fill failed/);
  assert.is(readFileSync(join(target, 'bundle.json'), 'utf8'), 'previous');
  assert.equal(readdirSync(parent), ['bundle']);
});

test('replaceDirAtomic policies refuse what they should, before filling', async () => {
  const parent = fresh();
  const other = join(parent, 'photos');
  mkdirSync(other);
  writeFileSync(join(other, 'cat.jpg'), 'meow');
  const file = join(parent, 'plain-file');
  writeFileSync(file, 'x');
  let filled = 0;
  const fill = async () => { filled++; };
  await rejectsBadInput(() => replaceDirAtomic(other, fill, { marker: 'bundle.json' }, 'out/photos'), /^output out\/photos is a non-empty directory without bundle\.json/);
  await rejectsBadInput(() => replaceDirAtomic(other, fill, 'empty-only', 'out/photos'), /^output out\/photos already exists and is not empty$/);
  await rejectsBadInput(() => replaceDirAtomic(file, fill, 'empty-only', 'out/file'), /^output out\/file exists and is not a directory$/);
  assert.is(filled, 0);
  assert.is(readFileSync(join(other, 'cat.jpg'), 'utf8'), 'meow');
  assert.equal(readdirSync(parent).sort(), ['photos', 'plain-file']);
  // An empty directory is fine under both policies.
  const empty = join(parent, 'empty');
  mkdirSync(empty);
  await replaceDirAtomic(empty, async (tmp) => writeFileSync(join(tmp, 'f'), 'y'), 'empty-only');
  assert.equal(readdirSync(empty), ['f']);
});

test('placeDirOnce: the first complete directory wins, the second is left to its owner', async () => {
  const parent = fresh();
  const [a, b] = ['a', 'b'].map((name) => {
    const dir = join(parent, `.tmp-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'who'), name);
    return dir;
  });
  const target = join(parent, 'entry');
  assert.is(await placeDirOnce(a, target), true);
  assert.is(await placeDirOnce(b, target), false);
  assert.is(readFileSync(join(target, 'who'), 'utf8'), 'a');
  assert.ok(existsSync(b), 'the loser is still there for the caller to remove');
  await rejects(() => placeDirOnce(join(parent, 'missing'), join(parent, 'x')), /ENOENT/);
});

test.run();
