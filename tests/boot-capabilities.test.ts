/**
 * Asking before anything starts (toolchain/boot/capabilities.ts): requests a
 * backend or the bundle's kernel cannot serve are refused with exit 2 and a
 * hint, before a port is probed, a socket opened or a VM started. Pure checks,
 * then the session (no prepare() call), then the CLI (exit 2 although no QEMU
 * exists: the refusal comes before the backend looks for one).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BundleManifest } from '../toolchain/bundle/manifest.ts';
import { QEMU_CAPABILITIES } from '../toolchain/boot/backends/qemu.ts';
import { DEFAULT_HYPERVISOR, hypervisorByName, HYPERVISOR_NAMES } from '../toolchain/boot/backends/registry.ts';
import { assertBackendSupports, assertSupported, type BootWants } from '../toolchain/boot/capabilities.ts';
import type { HypervisorCapabilities } from '../toolchain/boot/hypervisor.ts';
import { runBoot } from '../toolchain/boot/session.ts';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { kernelFeatures } from '../toolchain/kernel/kernel-features.ts';
import { rejectsBadInput } from './helpers/bad-input.ts';
import { hyperbuild } from './helpers/cli.ts';
import { FakeHypervisor, writeFakeBundle } from './helpers/boot-fake-guest.ts';

const tmp = mkdtempSync(join(tmpdir(), 'hb-boot-caps-'));
const volumeDir = join(tmp, 'share');
mkdirSync(volumeDir);

function manifest(kernel: Partial<BundleManifest['kernel']> = {}, rootfs?: BundleManifest['rootfs']): BundleManifest {
  return {
    kernel: { name: 'kernel', digest: '', size: 1, kind: 'hyperkernel', format: 'vmlinux', pvh: true, modular: false, ...kernel },
    initramfs: { name: 'initramfs.cpio.lz4', digest: '', size: 1, compression: 'lz4', uncompressedSize: 1 },
    rootfs,
  } as BundleManifest;
}
const cloud = manifest({ kind: 'debian-cloud', release: '6.1.0-56-cloud-amd64', format: 'bzImage', pvh: false, modular: true });
const wants = (over: Partial<BootWants> = {}): BootWants => ({ accel: 'auto', network: 'user', publishes: false, volumes: false, ...over });
const qemu = { name: 'qemu', capabilities: QEMU_CAPABILITIES };
const backend = (over: Partial<HypervisorCapabilities>) => ({ name: 'tiny', capabilities: { ...QEMU_CAPABILITIES, ...over } });

test('kernel features: the HyperKernel mounts 9p and virtiofs, the Debian cloud kernel neither', () => {
  assert.equal(kernelFeatures('hyperkernel'), { shares: ['9p', 'virtiofs'], volumes: true });
  assert.equal(kernelFeatures('debian-cloud'), { shares: [], volumes: false });
  assert.ok(kernelFeatures('custom').shares.includes('9p'), 'a custom kernel is taken as complete, as the build does');
});

test('-v on a kernel without 9p is refused, naming the kernel, with a hint', () => {
  try {
    assertSupported(qemu, cloud, wants({ volumes: true }));
    assert.unreachable();
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.is((err as Error).message, "--volume: the bundle's kernel (the Debian cloud kernel 6.1.0-56-cloud-amd64) has no 9p, so it cannot mount host directories");
    assert.match((err as BadInputError).hint!, /HyperKernel.*make kernel/);
    assert.is((err as BadInputError).exitCode, 2);
  }
  assertSupported(qemu, cloud, wants());
  assertSupported(qemu, manifest(), wants({ volumes: true }));
  assertSupported(qemu, manifest({ kind: 'custom' }), wants({ volumes: true }));
});

test('-p with --network none, or on a backend that cannot publish, is refused', async () => {
  await rejectsBadInput(() => assertBackendSupports(qemu, wants({ network: 'none', publishes: true })), /^--publish needs --network user$/);
  assertBackendSupports(qemu, wants({ publishes: true }));
  assertBackendSupports(qemu, wants({ network: 'none' }));
  await rejectsBadInput(() => assertBackendSupports(backend({ publishOn: [] }), wants({ publishes: true })), /backend cannot publish ports/);
});

test('what a backend lacks is refused: networks, volumes, its share filesystem in the kernel, accelerators, disks, kernel entries', async () => {
  await rejectsBadInput(() => assertBackendSupports(backend({ networks: { none: { mode: 'none' } } }), wants()), /--network user: the tiny backend offers none/);
  await rejectsBadInput(() => assertBackendSupports(backend({ volumes: 'none' }), wants({ volumes: true })), /tiny backend cannot share host directories/);
  await rejectsBadInput(() => assertSupported(backend({ volumes: 'virtiofs' }), manifest({ kind: 'custom' }), wants({ volumes: true })), /has no virtiofs/);
  assertSupported(backend({ volumes: 'virtiofs' }), manifest(), wants({ volumes: true }));
  await rejectsBadInput(() => assertBackendSupports(backend({ accelerators: ['kvm'] }), wants({ accel: 'tcg' })), /--accel tcg: the tiny backend drives kvm/);
  assertBackendSupports(backend({ accelerators: ['kvm'] }), wants({ accel: 'auto' }));
  const disk = manifest({}, { name: 'rootfs.ext4', digest: '', size: 1, type: 'ext4' });
  await rejectsBadInput(() => assertSupported(backend({ diskRootfs: false }), disk, wants()), /disk \(rootfs.ext4\) and the tiny backend cannot attach disks/);
  await rejectsBadInput(() => assertSupported(backend({ kernelEntries: ['pvh'] }), cloud, wants()), /kernel \(bzImage\) cannot be booted by the tiny backend/);
  assert.is(QEMU_CAPABILITIES.snapshot, true, 'QEMU makes and restores VM templates');
});

test('backends are found by name; an unknown name is refused with the list', async () => {
  assert.is(DEFAULT_HYPERVISOR, 'qemu');
  assert.ok(HYPERVISOR_NAMES.includes('qemu'));
  assert.is(hypervisorByName('qemu').name, 'qemu');
  assert.is(hypervisorByName().capabilities, QEMU_CAPABILITIES);
  await rejectsBadInput(() => hypervisorByName('toString'), /unknown hypervisor 'toString'/);
});

test('the session refuses before the backend prepares anything (no sockets, no VM)', async () => {
  const dir = join(tmp, 'cloud-bundle');
  await writeFakeBundle(dir, { cmd: ['true'] }, { kind: 'debian-cloud', release: '6.1.0-56-cloud-amd64' });
  let started = false;
  const hv = new FakeHypervisor(async () => { started = true; });
  await rejectsBadInput(() => runBoot({
    bundleDir: dir, hypervisor: hv, accel: 'tcg', cpus: 1, publish: [],
    overrides: { args: [], envFiles: [], env: [], tty: false, network: 'user', volumes: [{ tag: 'hbv0', hostPath: volumeDir, guestPath: '/data', readOnly: false }] },
    interactive: false, verbose: false, stopTimeoutMs: 1000,
  }), /Debian cloud kernel .* has no 9p/);
  assert.is(hv.lastRequest, undefined, 'prepare() was never called');
  assert.not.ok(started);
});

function cli(args: string[]) {
  const t = Date.now();
  // No QEMU at all: a refusal that needed the backend to look for one would say 125 + apt hint instead.
  const r = hyperbuild(['boot', ...args], { from: 'source', env: { HYPERBUILD_QEMU: '/nonexistent/qemu' } });
  return { code: r.status, stderr: r.stderr, ms: Date.now() - t };
}

test('CLI: -v on a Debian-cloud-kernel bundle → exit 2 with the hint, no VM; -p with --network none → exit 2 before the bundle is even opened', async () => {
  const dir = join(tmp, 'cloud-cli');
  await writeFakeBundle(dir, { cmd: ['true'] }, { kind: 'debian-cloud', release: '6.1.0-56-cloud-amd64' });
  const vol = cli(['-v', `${volumeDir}:/data`, dir]);
  assert.is(vol.code, 2, vol.stderr);
  assert.match(vol.stderr, /has no 9p, so it cannot mount host directories/);
  assert.match(vol.stderr, /^hint: rebuild the bundle with the HyperKernel/m);
  const pub = cli(['-p', '8080:80', '--network', 'none', join(tmp, 'no-such-bundle')]);
  assert.is(pub.code, 2, pub.stderr);
  assert.match(pub.stderr, /--publish needs --network user/);
  assert.not.match(pub.stderr, /not a bundle/);
  process.stderr.write(`  refusals took ${vol.ms} ms and ${pub.ms} ms, Node and tsx start included\n`);
});

test.run();
