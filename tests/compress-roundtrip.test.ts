import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { COMPRESSIONS, type Compression } from '../toolchain/compress/kinds.ts';
import { BadInputError, HyperbuildError } from '../toolchain/errors/errors.ts';
import { compress } from '../toolchain/compress/compress.ts';
import { decompress } from '../toolchain/compress/decompress.ts';
import { detectCompression, sniffCompression } from '../toolchain/compress/detect.ts';
import { spawnFilter } from '../toolchain/compress/spawn-filter.ts';
import { ZSTD_DEFAULT_LEVEL } from '../toolchain/compress/zstd.ts';

const KINDS = COMPRESSIONS;

/** Compressible but not trivial: text-like runs mixed with pseudo-random bytes. */
function sample(n: number): Buffer {
  const out = Buffer.alloc(n);
  let x = 7;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = i % 1024 < 700 ? 0x61 + ((i >> 3) % 26) : x >>> 24;
  }
  return out;
}

const DATA = sample(3 * 1024 * 1024 + 17);

async function* chunked(buf: Buffer, step = 65_521): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += step) yield buf.subarray(i, i + step);
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

async function packed(kind: Compression): Promise<Buffer> {
  return collect(compress(kind, chunked(DATA)));
}

/** Our child processes still alive (zombies included). */
function children(): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)]).toString().trim().split('\n')
      .filter((line) => /zstd|lz4/.test(line));
  } catch {
    return []; // ps exits 1 when there are none
  }
}

for (const kind of KINDS) {
  test(`${kind}: round trip`, async () => {
    const compressed = await packed(kind);
    if (kind !== 'none') assert.ok(compressed.length < DATA.length / 2, `${kind} compresses (${compressed.length})`);
    assert.is(detectCompression(compressed.subarray(0, 8)), kind === 'none' ? 'none' : kind);
    const back = await collect(decompress(kind, chunked(compressed, 4099), 'sample'));
    assert.ok(back.equals(DATA), `${kind} round trip is exact`);
  });

  test(`${kind}: empty input round trips`, async () => {
    const compressed = await collect(compress(kind, chunked(Buffer.alloc(0))));
    assert.is((await collect(decompress(kind, chunked(compressed), 'empty'))).length, 0);
  });

  test(`${kind}: identical bytes on every run`, async () => {
    const [a, b] = [await packed(kind), await packed(kind)];
    assert.ok(a.equals(b));
  });
}

test('gzip header: mtime 0, OS pinned to Unix, readable by gzip -d', async () => {
  const gz = await packed('gzip');
  assert.is(gz.readUInt32LE(4), 0, 'MTIME');
  assert.is(gz[3], 0, 'no FNAME or other flags');
  assert.is(gz[9], 3, 'OS = Unix');
  assert.ok(execFileSync('gzip', ['-d', '-c'], { input: gz, maxBuffer: 64 << 20 }).equals(DATA));
});

test('zstd output does not depend on the thread count (-T1 vs -T2 vs ours)', async () => {
  // Bigger than one zstd job (16 MiB at -9), or multithreaded and
  // single-threaded output coincide and the test could not tell them apart.
  const big = sample(40 << 20);
  const ours = await collect(compress('zstd', chunked(big)));
  const viaCli = (threads: string) =>
    collect(spawnFilter({ command: 'zstd', args: ['-q', '-c', `-${ZSTD_DEFAULT_LEVEL}`, threads], debianPackage: 'zstd' }, chunked(big), (d) => new Error(d)));
  assert.ok((await viaCli('-T1')).equals(ours), '-T1');
  assert.ok((await viaCli('-T2')).equals(ours), '-T2');
  assert.not.ok((await viaCli('--single-thread')).equals(ours), '--single-thread differs (else this test proves nothing)');
  assert.ok(execFileSync('zstd', ['-d', '-c'], { input: ours, maxBuffer: 64 << 20 }).equals(big));
});

test('lz4 output is the legacy frame the kernel needs (magic 0x184C2102)', async () => {
  const lz = await packed('lz4');
  assert.is(lz.readUInt32LE(0), 0x184c2102);
  assert.ok(execFileSync('lz4', ['-d', '-c'], { input: lz, maxBuffer: 64 << 20 }).equals(DATA));
});

async function expectBadInput(kind: Compression, input: Buffer, what: string): Promise<void> {
  try {
    await collect(decompress(kind, chunked(input, 1000), 'layers/sha256:abc'));
  } catch (error) {
    assert.instance(error, BadInputError, `${kind} ${what}: ${error}`);
    assert.match((error as Error).message, /^layers\/sha256:abc: /);
    return;
  }
  assert.unreachable(`${kind} ${what} should fail`);
}

for (const kind of ['gzip', 'zstd', 'lz4'] as const) {
  test(`${kind}: truncated or corrupt input is a BadInputError naming the label`, async () => {
    const good = await packed(kind);
    await expectBadInput(kind, good.subarray(0, good.length - 9), 'truncated at the end');
    await expectBadInput(kind, good.subarray(0, 30), 'truncated early');
    const corrupt = Buffer.from(good);
    corrupt.fill(0x55, 100, 400);
    await expectBadInput(kind, corrupt, 'corrupt');
    await expectBadInput(kind, sample(2 << 20), 'not compressed at all');
    assert.equal(children(), [], 'no child process left behind');
  });
}

test("a failing tool's stderr appears in the error", async () => {
  try {
    await collect(decompress('zstd', chunked(Buffer.from('definitely not zstd')), 'x'));
    assert.unreachable();
  } catch (error) {
    assert.match((error as Error).message, /zstd exited with status 1: .*unsupported format/);
  }
});

test('a missing binary says how to install it', async () => {
  try {
    await collect(spawnFilter({ command: 'zstd-not-installed-here', args: [], debianPackage: 'zstd' }, chunked(DATA), (d) => new Error(d)));
    assert.unreachable();
  } catch (error) {
    assert.instance(error, HyperbuildError);
    assert.match((error as Error).message, /`zstd-not-installed-here` is not installed/);
    assert.is((error as HyperbuildError).hint, 'Install it: apt-get install zstd');
  }
});

test('stopping early kills the child; an input error propagates and kills it too', async () => {
  const big = sample(32 << 20);
  for (const kind of ['zstd', 'lz4'] as const) {
    for await (const _ of compress(kind, chunked(big))) break;
    assert.equal(children(), [], `${kind} after early stop`);
    const failing = async function* (): AsyncGenerator<Buffer> {
      yield big.subarray(0, 1 << 20);
      throw new Error('layer download failed');
    };
    try {
      await collect(compress(kind, failing()));
      assert.unreachable();
    } catch (error) {
      assert.is((error as Error).message, 'layer download failed');
    }
    assert.equal(children(), [], `${kind} after input error`);
  }
});

test('detectCompression by magic', () => {
  assert.is(detectCompression(Buffer.from('070701000000')), 'none');
  assert.is(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  assert.is(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.is(detectCompression(Buffer.from([0x02, 0x21, 0x4c, 0x18])), 'lz4');
  assert.is(detectCompression(Buffer.alloc(0)), 'none');
  assert.throws(() => detectCompression(Buffer.from([0x04, 0x22, 0x4d, 0x18]), 'initrd'), (e: unknown) =>
    e instanceof BadInputError && /legacy|lz4 -l/.test(`${(e as Error).message} ${(e as BadInputError).hint}`));
  assert.throws(() => detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), /xz-compressed/);
  assert.throws(() => detectCompression(Buffer.from('BZh91AY')), /bzip2-compressed/);
});

test('sniffCompression names every format it knows and judges none of them', async () => {
  for (const kind of COMPRESSIONS) {
    assert.is(sniffCompression((await packed(kind)).subarray(0, 6)), kind, kind);
  }
  const tool = (command: string, args: string[]) => execFileSync(command, args, { input: DATA.subarray(0, 4096) }).subarray(0, 6);
  assert.is(sniffCompression(tool('xz', ['-c'])), 'xz');
  assert.is(sniffCompression(tool('bzip2', ['-c'])), 'bzip2');
  assert.is(sniffCompression(tool('lz4', ['-c'])), 'lz4-frame');
  assert.is(sniffCompression(Buffer.from([0x1f])), 'none', 'too short for any magic');
});

test.run();
