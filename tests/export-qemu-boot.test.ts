/**
 * The qemu export booted for real, with nothing but sh and
 * qemu-system-x86_64: `sh run.sh` prints the app's output and HyperStart's
 * `hyperstart: exit CODE` line and exits with the app's code. Overrides (-e,
 * -w, the command after --) must take effect, which proves the spec appended
 * to the initramfs replaced the bundle's (spec-segment.ts) — in every
 * initramfs compression, since the kernel must find the uncompressed archive
 * after each compressed one. A disk-rootfs bundle proves the rootdisk record
 * survived, a modular Debian cloud kernel that its module records did (and
 * boots the q35 flavour of the script). Needs the HyperKernel, the Debian
 * cloud kernel in the kernel cache and the fixtures (`make hyperstart fixtures`).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { COMPRESSIONS } from '../toolchain/bundle/manifest.ts';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { hyperbuild, type CliResult } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';

const work = tempDir('export-qemu');
const HELLO = 'oci:fixtures/out/busybox:hello';

function ok(r: CliResult, what: string): CliResult {
  assert.is(r.status, 0, `${what}: ${r.stderr}`);
  return r;
}

function build(name: string, ...flags: string[]): string {
  const dir = join(work, name);
  ok(hyperbuild(['build', HELLO, '-o', dir, ...flags], { from: 'source' }), `build ${name}`);
  return dir;
}

/** Run an exported script as a user would, from another directory, with a plain environment. */
function runScript(script: string, env: Record<string, string> = {}): { status: number | null; out: string; err: string } {
  const r = spawnSync('sh', [script], {
    cwd: work, encoding: 'utf8', timeout: 120_000,
    // HYPERBUILD_TEST_RUN tags our QEMU for the runner's leftover check.
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HYPERBUILD_TEST_RUN: process.env.HYPERBUILD_TEST_RUN ?? '', ...env },
  });
  // The guest console is a tty: CRLF line ends.
  return { status: r.status, out: r.stdout.replaceAll('\r\n', '\n'), err: r.stderr };
}

const OVERRIDE = ['-e', 'GREETING=hello from the export', '-w', '/tmp', '--', 'sh', '-c', 'echo "$GREETING in $(pwd)"; echo to-stderr >&2; exit 7'];

for (const compression of COMPRESSIONS) {
  test(`${compression} initramfs: -e, -w and the command after -- run in the booted export; exit code is the app's`, () => {
    const bundle = build(`hello-${compression}`, '--compression', compression);
    const script = join(work, `run-${compression}.sh`);
    ok(hyperbuild(['export', bundle, '--format', 'qemu', '-o', script, ...OVERRIDE], { from: 'source' }), 'export');
    assert.ok(statSync(script).mode & 0o100, 'the script is executable');
    const r = runScript(script);
    assert.match(r.out, /^hello from the export in \/tmp$/m);
    assert.match(r.out, /^to-stderr$/m, 'stderr reaches the console too');
    assert.match(r.out, /^hyperstart: exit 7$/m);
    assert.is(r.status, 7, r.out + r.err);
  });
}

test('no overrides: the image\'s own command; the compressed kernel unpacked beside it; the export moves with its initrd and kernel', () => {
  const bundle = join(work, 'hello-gzip');
  const script = join(work, 'plain', 'run-hello.sh');
  const r1 = ok(hyperbuild(['export', bundle, '--format', 'qemu', '-o', script, '--json'], { from: 'source' }), 'export');
  const result = JSON.parse(r1.stdout);
  assert.equal(result.written.map((w: { role: string }) => w.role), ['kernel', 'initrd', 'launch']);
  assert.is(result.network, 'user');
  const m = JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8'));
  assert.is(m.kernel.compression, 'gzip', 'the bundle stores its kernel compressed');
  const kernel = readFileSync(join(work, 'plain', 'run-hello.vmlinux'));
  assert.equal([kernel.length, sha256Digest(kernel)], [m.kernel.uncompressedSize, m.kernel.uncompressedDigest], 'the export carries it unpacked');
  // Script, initrd and kernel copied elsewhere still boot: both are found next to the script.
  const moved = join(work, 'moved');
  mkdirSync(moved);
  copyFileSync(script, join(moved, 'run-hello.sh'));
  copyFileSync(join(work, 'plain', 'run-hello.initrd'), join(moved, 'run-hello.initrd'));
  copyFileSync(join(work, 'plain', 'run-hello.vmlinux'), join(moved, 'run-hello.vmlinux'));
  const r = runScript(join(moved, 'run-hello.sh'));
  assert.match(r.out, /Hello from hyperbuild: Linux 6\.1\.[^\n]*, running as root in \//);
  assert.match(r.out, /^hyperstart: exit 0$/m);
  assert.is(r.status, 0, r.out + r.err);
});

test('a disk rootfs bundle: the rootdisk record survives, the app runs from the read-only disk', () => {
  const bundle = build('hello-ext4', '--rootfs', 'ext4');
  assert.ok(JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8')).rootfs, 'the bundle has a disk');
  const script = join(work, 'run-ext4.sh');
  ok(hyperbuild(['export', bundle, '--format', 'qemu', '-o', script, '--', 'sh', '-c', 'test -x /bin/hello && /bin/hello && exit 4'], { from: 'source' }), 'export');
  const r = runScript(script);
  assert.match(r.out, /Hello from hyperbuild/);
  assert.is(r.status, 4, r.out + r.err);
});

test('a modular bzImage kernel (Debian cloud): q35, and the module records survive', () => {
  const bundle = build('hello-cloud', '--kernel', 'debian-cloud');
  assert.is(JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8')).kernel.format, 'bzImage');
  const script = join(work, 'run-cloud.sh');
  ok(hyperbuild(['export', bundle, '--format', 'qemu', '-o', script, '-e', 'X=from q35', '--', 'sh', '-c', 'echo "$X"; exit 9'], { from: 'source' }), 'export');
  assert.match(readFileSync(script, 'utf8'), /-M q35/);
  const r = runScript(script);
  assert.match(r.out, /^from q35$/m);
  assert.is(r.status, 9, r.out + r.err);
});

test('refusals come before anything is written, exit 2', () => {
  const bundle = join(work, 'hello-lz4');
  const out = join(work, 'refused', 'web.json');
  const r = hyperbuild(['export', bundle, '--format', 'firecracker', '-o', out, '-p', '8080:80'], { from: 'source' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /^hyperbuild: error: --format firecracker: -p: Firecracker has no NAT/m);
  assert.match(r.stderr, /^hint: /m);
  assert.not.ok(existsSync(join(work, 'refused')), 'nothing written');
  const inside = hyperbuild(['export', bundle, '--format', 'qemu', '-o', join(bundle, 'run.sh')], { from: 'source' });
  assert.is(inside.status, 2);
  assert.match(inside.stderr, /is inside the bundle directory/);
  assert.not.ok(existsSync(join(bundle, 'run.initrd')));
});

test('a monitor that fails before the guest prints its exit line: exit 125 with a message', () => {
  const script = join(work, 'run-broken.sh');
  ok(hyperbuild(['export', join(work, 'hello-lz4'), '--format', 'qemu', '-o', script], { from: 'source' }), 'export');
  const r = runScript(script, { HYPERBUILD_QEMU: '/bin/false' });
  assert.is(r.status, 125, r.out + r.err);
  assert.match(r.err, /the VM ended without a 'hyperstart: exit' line/);
});

test.run();
