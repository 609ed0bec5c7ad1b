/**
 * resolveKernel's choices (--kernel PATH; the cached HyperKernel by default,
 * refused with a hint when it is not built; --kernel hyperkernel builds a
 * missing one; --kernel debian-cloud only by name), that the CLI's kernel
 * cache does not follow --cache-dir, the module load order it hands to
 * HyperStart, and that build.sh and cache-key.ts agree on the cache key.
 * Everything runs against throwaway cache dirs with synthetic kernels; no
 * network (the cloud kernel is pre-seeded in the cache).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { hyperKernelKey, kernelSourceDir, readHyperKernelKeyInputs } from '../toolchain/kernel/cache-key.ts';
import { listCachedKernels } from '../toolchain/kernel/kernel-cache.ts';
import { moduleLoadOrder, parseModulesDep } from '../toolchain/kernel/module-order.ts';
import { resolveKernel } from '../toolchain/kernel/resolve-kernel.ts';
import { COMPACT_VMLINUX } from '../toolchain/kernel/compact-vmlinux.ts';
import { gzipVmlinuxPath } from '../toolchain/kernel/gzip-vmlinux.ts';
import { BadInputError, HyperbuildError } from '../toolchain/errors/errors.ts';
import { defaultKernelCacheDir } from '../toolchain/kernel/kernel-cache.ts';
import { FIXTURES, hyperbuild } from './helpers/cli.ts';

/** ELF64 x86-64 with a PT_NOTE segment; `pvh` adds Xen's PHYS32_ENTRY (type 18) note. */
function fakeVmlinux(pvh: boolean): Buffer {
  const note = Buffer.alloc(20);
  note.writeUInt32LE(4, 0);
  note.writeUInt32LE(4, 4);
  note.writeUInt32LE(pvh ? 18 : 1, 8);
  note.write('Xen\0', 12, 'latin1');
  const elf = Buffer.alloc(120);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf[5] = 1;
  elf.writeUInt16LE(62, 18);
  elf.writeBigUInt64LE(64n, 0x20);
  elf.writeUInt16LE(56, 0x36);
  elf.writeUInt16LE(1, 0x38);
  elf.writeUInt32LE(4, 64);
  elf.writeBigUInt64LE(120n, 72);
  elf.writeBigUInt64LE(20n, 96);
  return Buffer.concat([elf, note, Buffer.from('Linux version 6.1.192-hyperkernel (hyperbuild@hyperbuild) #1\0')]);
}

function fakeBzImage(): Buffer {
  const b = Buffer.alloc(0x400);
  b.write('HdrS', 0x202, 'latin1');
  b.writeUInt16LE(0x20f, 0x206);
  b.writeUInt16LE(0x100, 0x20e);
  b.write('6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1\0', 0x300, 'latin1');
  return b;
}

const root = mkdtempSync(join(tmpdir(), 'kernel-resolve-'));
let n = 0;
const freshCache = () => join(root, `cache${n++}`);

async function seedHyperKernel(cacheDir: string): Promise<string> {
  const key = hyperKernelKey(await readHyperKernelKeyInputs());
  const dir = join(cacheDir, 'kernels', key);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vmlinux'), fakeVmlinux(true));
  writeFileSync(join(dir, 'bzImage'), fakeBzImage());
  writeFileSync(join(dir, '.config'), 'CONFIG_64BIT=y\n');
  writeFileSync(join(dir, 'release'), '6.1.192-hyperkernel\n');
  return key;
}

function seedCloudKernel(cacheDir: string): void {
  const dir = join(cacheDir, 'kernels', 'debian-cloud-6.1.192-2');
  mkdirSync(join(dir, 'modules'), { recursive: true });
  writeFileSync(join(dir, 'vmlinuz'), fakeBzImage());
  writeFileSync(join(dir, '.config'), 'CONFIG_VIRTIO=m\n');
  writeFileSync(join(dir, 'release'), '6.1.0-56-cloud-amd64\n');
  writeFileSync(join(dir, 'package-version'), '6.1.192-2\n');
  writeFileSync(join(dir, 'modules.load'), 'virtio_ring\nvirtio\nvirtio_pci\n');
  for (const m of ['virtio_ring', 'virtio', 'virtio_pci']) writeFileSync(join(dir, 'modules', `${m}.ko`), m);
}

test('--kernel wins over a cached HyperKernel; format comes from the bytes, not the name', async () => {
  const cacheDir = freshCache();
  await seedHyperKernel(cacheDir);
  const custom = join(root, 'my-kernel.vmlinux');
  writeFileSync(custom, fakeBzImage());
  const logs: string[] = [];
  const r = await resolveKernel({ kernelPath: custom, cacheDir, log: (l) => logs.push(l) });
  assert.is(r.path, custom);
  assert.equal(r.kernel, { kind: 'custom', release: '6.1.0-56-cloud-amd64', format: 'bzImage', pvh: false, modular: false });
  assert.match(logs.join('\n'), /custom kernel/);
});

test('--kernel: a PVH vmlinux is accepted, a vmlinux without PVH is refused with a hint', async () => {
  const pvh = join(root, 'pvh');
  writeFileSync(pvh, fakeVmlinux(true));
  assert.equal((await resolveKernel({ kernelPath: pvh, cacheDir: freshCache() })).kernel.pvh, true);
  const plain = join(root, 'plain');
  writeFileSync(plain, fakeVmlinux(false));
  try {
    await resolveKernel({ kernelPath: plain, cacheDir: freshCache() });
    assert.unreachable('should refuse');
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.match((err as BadInputError).hint ?? '', /bzImage/);
  }
});

test('without --kernel the cached HyperKernel is used (vmlinux, PVH, not modular, volumes)', async () => {
  const cacheDir = freshCache();
  const key = await seedHyperKernel(cacheDir);
  seedCloudKernel(cacheDir);
  const logs: string[] = [];
  const r = await resolveKernel({ cacheDir, log: (l) => logs.push(l) });
  assert.is(r.bootPath, join(cacheDir, 'kernels', key, COMPACT_VMLINUX), 'bundles get the compact vmlinux (compact-vmlinux.ts)');
  assert.is(r.path, gzipVmlinuxPath(r.bootPath), 'stored gzip-compressed (gzip-vmlinux.ts)');
  assert.ok(gunzipSync(readFileSync(r.path)).equals(readFileSync(r.bootPath)));
  assert.equal([r.kernel.compression, r.kernel.uncompressedSize], ['gzip', statSync(r.bootPath).size]);
  assert.equal(r.kernel.kind, 'hyperkernel');
  assert.equal([r.kernel.format, r.kernel.pvh, r.kernel.modular, r.kernel.release], ['vmlinux', true, false, '6.1.192-hyperkernel']);
  assert.match(r.kernel.configDigest ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.equal(r.modules, []);
  assert.ok(r.features.volumes);
  assert.match(logs.join('\n'), /using HyperKernel/);
});

/** A HyperKernel for some other fragment, which must never be picked up. */
function seedOtherHyperKernel(cacheDir: string): void {
  const dir = join(cacheDir, 'kernels', 'f'.repeat(64));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vmlinux'), fakeVmlinux(true));
  writeFileSync(join(dir, 'bzImage'), fakeBzImage());
}

async function rejection(p: Promise<unknown>): Promise<HyperbuildError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, HyperbuildError);
    return err as HyperbuildError;
  }
  return assert.unreachable('should have been refused') as never;
}

test('no HyperKernel for this config: refused with a hint, never the cloud kernel in its place', async () => {
  const cacheDir = freshCache();
  seedCloudKernel(cacheDir);
  seedOtherHyperKernel(cacheDir);
  const logs: string[] = [];
  const err = await rejection(resolveKernel({ cacheDir, log: (l) => logs.push(l) }));
  assert.not.instance(err, BadInputError, 'a kernel not built yet is not bad input');
  assert.is(err.exitCode, 1);
  assert.match(err.message, new RegExp(`no HyperKernel for this checkout's config in ${join(cacheDir, 'kernels')} \\(key [0-9a-f]{12}; 1 cached for other configs`));
  for (const way of ['hyperbuild kernel build', 'make kernel', '--kernel hyperkernel', '--kernel debian-cloud']) assert.ok(err.hint?.includes(way), `hint names ${way}: ${err.hint}`);
  assert.not.match(logs.join('\n'), /using/);
});

test('--kernel debian-cloud: the cached cloud kernel, its modules in load order, no volumes', async () => {
  const cacheDir = freshCache();
  await seedHyperKernel(cacheDir);
  seedCloudKernel(cacheDir);
  const logs: string[] = [];
  const r = await resolveKernel({ kernelPath: 'debian-cloud', cacheDir, log: (l) => logs.push(l) });
  assert.equal(r.kernel.kind, 'debian-cloud');
  assert.equal([r.kernel.format, r.kernel.pvh, r.kernel.modular], ['bzImage', false, true]);
  assert.equal(r.modules.map((m) => m.name), ['virtio_ring', 'virtio', 'virtio_pci']);
  assert.is(r.modules[2].hostPath, join(cacheDir, 'kernels', 'debian-cloud-6.1.192-2', 'modules', 'virtio_pci.ko'));
  assert.not.ok(r.features.volumes);
  assert.match(logs.join('\n'), /Debian cloud kernel 6\.1\.0-56-cloud-amd64 \(asked for by name/);
  assert.equal((await listCachedKernels(cacheDir)).map((e) => e.kind), ['hyperkernel', 'debian-cloud']);
});

test('--kernel hyperkernel: a cached one is used as is, without a build', async () => {
  const cacheDir = freshCache();
  const key = await seedHyperKernel(cacheDir);
  const logs: string[] = [];
  const r = await resolveKernel({ kernelPath: 'hyperkernel', cacheDir, log: (l) => logs.push(l) });
  assert.is(r.bootPath, join(cacheDir, 'kernels', key, COMPACT_VMLINUX), 'bundles get the compact vmlinux (compact-vmlinux.ts)');
  assert.is(r.path, gzipVmlinuxPath(r.bootPath), 'stored gzip-compressed (gzip-vmlinux.ts)');
  assert.ok(gunzipSync(readFileSync(r.path)).equals(readFileSync(r.bootPath)));
  assert.equal([r.kernel.compression, r.kernel.uncompressedSize], ['gzip', statSync(r.bootPath).size]);
  assert.not.match(logs.join('\n'), /building/);
});

test('--kernel hyperkernel: a missing one is built (kernel/build.sh runs, its failure is reported)', async () => {
  const cacheDir = freshCache();
  seedCloudKernel(cacheDir);
  // build.sh checks the source tarball before any work, so this build fails at once, and only here.
  const saved = process.env.HYPERKERNEL_SOURCE;
  process.env.HYPERKERNEL_SOURCE = join(root, 'no-such-linux-source.tar.xz');
  const logs: string[] = [];
  try {
    const err = await rejection(resolveKernel({ kernelPath: 'hyperkernel', cacheDir, log: (l) => logs.push(l) }));
    assert.match(err.message, /HyperKernel build failed .*\n.*no kernel source at .*no-such-linux-source\.tar\.xz/);
  } finally {
    if (saved === undefined) delete process.env.HYPERKERNEL_SOURCE;
    else process.env.HYPERKERNEL_SOURCE = saved;
  }
  assert.match(logs.join('\n'), /building it now from linux-source-6\.1/);
  assert.equal((await listCachedKernels(cacheDir)).map((e) => e.kind), ['debian-cloud']);
});

test('the kernel cache: HYPERBUILD_KERNEL_CACHE_DIR, else $XDG_CACHE_HOME/hyperbuild, else ~/.cache/hyperbuild', () => {
  assert.is(defaultKernelCacheDir({ HYPERBUILD_KERNEL_CACHE_DIR: '/k', XDG_CACHE_HOME: '/x' }), '/k');
  assert.is(defaultKernelCacheDir({ XDG_CACHE_HOME: '/x' }), '/x/hyperbuild');
  assert.match(defaultKernelCacheDir({ HYPERBUILD_KERNEL_CACHE_DIR: '' }), /\/\.cache\/hyperbuild$/);
});

/** The CLI's environment with the kernel cache named only by XDG_CACHE_HOME. */
function xdgOnlyEnv(xdg: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_CACHE_HOME: xdg };
  delete env.HYPERBUILD_KERNEL_CACHE_DIR;
  return env;
}

test('CLI: --cache-dir does not move the kernel cache (kernel ls, and build bundles the HyperKernel)', async () => {
  const xdg = join(root, 'xdg');
  const key = await seedHyperKernel(join(xdg, 'hyperbuild'));
  const env = xdgOnlyEnv(xdg);
  const blobs = join(root, 'fresh-blob-cache');
  const ls = hyperbuild(['kernel', 'ls', '--cache-dir', blobs, '--json'], { env });
  assert.is(ls.status, 0, ls.stderr);
  assert.equal(JSON.parse(ls.stdout).kernels.map((k: { key: string }) => k.key), [key]);
  const elsewhere = hyperbuild(['kernel', 'ls', '--kernel-cache-dir', blobs, '--json'], { env });
  assert.equal(JSON.parse(elsewhere.stdout).kernels, []);
  const out = join(root, 'bundle');
  const build = hyperbuild(['build', `oci:${FIXTURES}/busybox:hello`, '-o', out, '--cache-dir', blobs], { env });
  assert.is(build.status, 0, build.stderr);
  const manifest = JSON.parse(readFileSync(join(out, 'bundle.json'), 'utf8'));
  assert.is(manifest.kernel.kind, 'hyperkernel');
});

test('CLI: build with an empty kernel cache exits 1 with the hint, and writes no bundle', () => {
  const env = xdgOnlyEnv(join(root, 'xdg-empty'));
  const out = join(root, 'no-bundle');
  const r = hyperbuild(['build', `oci:${FIXTURES}/busybox:hello`, '-o', out, '--cache-dir', join(root, 'blobs2')], { env });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /no HyperKernel for this checkout's config/);
  assert.match(r.stderr, /hint: .*hyperbuild kernel build/);
  assert.not.ok(existsSync(out), 'no bundle written');
});

test('module load order: dependencies first, each once, builtins skipped, missing named', () => {
  // Excerpt of the real 6.1.0-56-cloud-amd64 modules.dep (depmod -b).
  const dep = parseModulesDep([
    'kernel/fs/overlayfs/overlay.ko:',
    'kernel/fs/erofs/erofs.ko: kernel/lib/libcrc32c.ko',
    'kernel/lib/libcrc32c.ko:',
    'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/drivers/virtio/virtio_pci_modern_dev.ko:',
    'kernel/drivers/virtio/virtio_pci_legacy_dev.ko:',
    'kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/char/hw_random/virtio-rng.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko',
    'kernel/net/core/failover.ko:',
  ].join('\n'));
  const order = moduleLoadOrder(dep, ['virtio_pci', 'virtio_rng', 'virtio_net', 'erofs', 'overlay']).map((m) => m.name);
  assert.equal(order, ['virtio_pci_legacy_dev', 'virtio_pci_modern_dev', 'virtio_ring', 'virtio', 'virtio_pci', 'virtio_rng', 'failover', 'net_failover', 'virtio_net', 'libcrc32c', 'erofs', 'overlay']);
  assert.equal(moduleLoadOrder(dep, ['ext4', 'overlay'], new Set(['ext4'])).map((m) => m.name), ['overlay']);
  assert.throws(() => moduleLoadOrder(dep, ['9pnet_virtio']), /9pnet_virtio is not in modules.dep/);
});

test('kernel/build.sh --print-key and cache-key.ts compute the same key', async () => {
  const r = spawnSync(join(kernelSourceDir(), 'build.sh'), ['--print-key'], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout.trim(), hyperKernelKey(await readHyperKernelKeyInputs()));
});

test.after(() => rmSync(root, { recursive: true, force: true }));

test.run();
