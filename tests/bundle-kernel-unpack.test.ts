/**
 * A bundle whose kernel is stored compressed (`kernel.gz`): boot unpacks it
 * once into the cache (bootable-kernel.ts) and later boots reuse that copy
 * through the digest memo; a damaged copy is unpacked again; an old bundle
 * boots from its own kernel file. A hostile compressed kernel — corrupt gzip,
 * truncated gzip, more or fewer bytes than declared, other bytes than the
 * declared digest — is refused with exit 2 and a hint, and leaves no file
 * in the cache.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bootableKernel, bootableKernelBytes, unpackedKernelsDir } from '../toolchain/bundle/bootable-kernel.ts';
import { bundleFileList, kernelFileName, type BundleManifest } from '../toolchain/bundle/manifest.ts';
import { openBundle } from '../toolchain/bundle/open-bundle.ts';
import { writeBundle } from '../toolchain/bundle/write-bundle.ts';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { makeBundleDir, seededBytes, tempDir } from './helpers/registry-fixtures.ts';

const work = tempDir('kernel-unpack');
const VMLINUX = seededBytes('vmlinux', 700_000);

/** A bundle with `gz` as its kernel.gz, declaring `declared` as what it unpacks to. */
async function bundleWith(name: string, gz: Buffer, declared: { digest: string; size: number } = { digest: sha256Digest(VMLINUX), size: VMLINUX.length }): Promise<string> {
  const base = await makeBundleDir(join(work, `${name}-base`));
  const src = join(work, `${name}-src`);
  writeFileSync(src, gz);
  const m: BundleManifest = {
    ...base.bundle,
    kernel: {
      ...base.bundle.kernel, name: kernelFileName('gzip'), digest: sha256Digest(gz), size: gz.length,
      compression: 'gzip', uncompressedDigest: declared.digest, uncompressedSize: declared.size,
    },
  };
  const dir = join(work, name);
  const from = (f: string) => (f === m.kernel.name ? src : join(base.dir, f));
  await writeBundle(dir, bundleFileList(m).map((f) => ({ name: f.name, from: from(f.name) })), m, 'bundle');
  return dir;
}

async function refusal(dir: string, cache: string): Promise<BadInputError> {
  const opened = await openBundle(dir, { verify: 'full' });
  try {
    await bootableKernel(opened, cache);
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.is((err as BadInputError).exitCode, 2);
    assert.ok((err as BadInputError).hint, 'a hint');
    assert.equal(readdirSync(unpackedKernelsDir(cache)).filter((f) => !f.startsWith('.tmp')), [], 'nothing left in the cache');
    assert.equal(readdirSync(unpackedKernelsDir(cache)), [], 'no temp file left either');
    return err as BadInputError;
  }
  assert.unreachable('the hostile kernel was unpacked');
  throw new Error('unreachable');
}

test('first boot unpacks into the cache, verified; the second reuses the copy; a damaged copy is replaced', async () => {
  const dir = await bundleWith('good', gzipSync(VMLINUX, { level: 9 }));
  const cache = join(work, 'cache-good');
  const opened = await openBundle(dir, { verify: 'full' });
  const path = await bootableKernel(opened, cache);
  assert.is(path, join(unpackedKernelsDir(cache), sha256Digest(VMLINUX).slice('sha256:'.length)));
  assert.ok(readFileSync(path).equals(VMLINUX), 'the unpacked bytes');
  const first = statSync(path);
  assert.is(await bootableKernel(opened, cache), path);
  const second = statSync(path);
  assert.equal([second.ino, second.mtimeMs], [first.ino, first.mtimeMs], 'reused, not written again');
  // Damaged, same size: the memo sees the changed identity, rehashes, and unpacks it again.
  const damaged = Buffer.from(VMLINUX);
  damaged[1234] ^= 0xff;
  writeFileSync(path, damaged);
  assert.is(await bootableKernel(opened, cache), path);
  assert.ok(readFileSync(path).equals(VMLINUX), 'replaced by a good copy');
  rmSync(path);
  assert.ok(readFileSync(await bootableKernel(opened, cache)).equals(VMLINUX), 'a removed copy is unpacked again');
});

test('an uncompressed kernel (every bundle before kernel.gz) boots from the bundle file itself', async () => {
  const old = await makeBundleDir(join(work, 'old'));
  const opened = await openBundle(old.dir, { verify: 'full' });
  assert.is(await bootableKernel(opened, join(work, 'cache-old')), join(old.dir, 'vmlinux'));
  assert.is(bootableKernelBytes(opened).size, old.bundle.kernel.size);
});

test('the export stream gives the unpacked bytes with their size', async () => {
  const opened = await openBundle(await bundleWith('stream', gzipSync(VMLINUX)), { verify: 'full' });
  const bytes = bootableKernelBytes(opened);
  const parts: Buffer[] = [];
  for await (const chunk of bytes.open()) parts.push(chunk);
  assert.is(bytes.size, VMLINUX.length);
  assert.ok(Buffer.concat(parts).equals(VMLINUX));
});

test('hostile compressed kernels are refused with exit 2, naming the file, and nothing is left in the cache', async () => {
  const gz = gzipSync(VMLINUX);
  const cases: [string, Buffer, { digest: string; size: number } | undefined, RegExp][] = [
    ['not-gzip', seededBytes('junk', 4096), undefined, /kernel kernel\.gz: corrupt gzip data/],
    ['truncated', gz.subarray(0, gz.length >> 1), undefined, /kernel kernel\.gz: truncated gzip data|kernel kernel\.gz: corrupt gzip data/],
    ['bomb', gzipSync(Buffer.alloc(64 * 1024 * 1024)), undefined, /kernel kernel\.gz unpacks to more than the 700000 bytes bundle\.json declares \(kernel\.uncompressedSize\)$/],
    ['short', gz, { digest: sha256Digest(VMLINUX), size: VMLINUX.length + 1 }, /kernel kernel\.gz unpacks to 700000 bytes, bundle\.json declares 700001 \(kernel\.uncompressedSize\)$/],
    ['other-bytes', gzipSync(seededBytes('other', VMLINUX.length)), undefined, /kernel kernel\.gz unpacks to other bytes than bundle\.json's kernel\.uncompressedDigest names/],
  ];
  for (const [name, bytes, declared, message] of cases) {
    const err = await refusal(await bundleWith(name, bytes, declared), join(work, `cache-${name}`));
    assert.match(err.message, message, name);
    assert.ok(err.message.startsWith(`bundle ${join(work, name)}: kernel kernel.gz`), err.message);
  }
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
