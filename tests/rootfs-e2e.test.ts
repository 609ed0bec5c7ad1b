/**
 * The same image as initramfs, ext4 and erofs must look identical to the app,
 * checked from inside the guest; and an ACI (with a dependency) boots with its
 * own user, group, working directory and environment. Real builds, real boots.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT, hyperbuild } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';

const work = tempDir('rootfs');
const kernelEnv = { HYPERBUILD_KERNEL_CACHE_DIR: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? join(process.env.HOME ?? '/root', '.cache', 'hyperbuild') };

/**
 * Every path of the root filesystem with its mode, owner, type, link count and
 * content hash, as the app sees it. Directory link counts are left out: they
 * are a property of the filesystem (overlayfs reports 1 for merged dirs).
 */
const CHECKER = `cd / && find . -xdev ! -path './.hyperstart*' ! -path './etc/resolv.conf' ! -path './etc/hosts' | sort | while read -r f; do
  if [ -f "$f" ] && [ ! -L "$f" ]; then h=$(md5sum < "$f" | cut -c1-32); else h=-; fi
  if [ -d "$f" ]; then n=dir; else n=$(stat -c %h "$f"); fi
  echo "$f $(stat -c '%a %u %g %F' "$f") $n $h"; done`;

function build(ref: string, out: string, extra: string[] = []) {
  const r = hyperbuild(['build', ref, '-o', out, '--cache-dir', join(work, 'cache'), ...extra], { env: kernelEnv });
  assert.is(r.status, 0, r.stderr);
}

function boot(bundle: string, args: string[]): string {
  const r = hyperbuild(['boot', '--network', 'none', '--timeout', '120s', bundle, '--', ...args], { env: kernelEnv });
  assert.is(r.status, 0, r.stderr.slice(-1500));
  return r.stdout;
}

test.after(() => rmSync(work, { recursive: true, force: true }));

test('initramfs, ext4 and erofs root filesystems look identical from inside the guest', async () => {
  const listings = ['initramfs', 'ext4', 'erofs'].map((kind) => {
    const out = join(work, kind);
    build(`oci:${FIXTURES}/busybox:latest`, out, ['--rootfs', kind]);
    return boot(out, ['sh', '-c', CHECKER]);
  });
  const lines = listings[0].trim().split('\n');
  assert.ok(lines.length > 250, `a real listing (${lines.length} lines)`);
  assert.ok(lines.some((l) => /^\.\/home\/app 755 1000 1000 directory/.test(l)), 'owners survive');
  assert.ok(lines.some((l) => /^\.\/tmp 1777 0 0 directory/.test(l)), 'sticky bit survives');
  assert.ok(lines.some((l) => l.startsWith('./etc/motd 644 0 0 regular file 1 ')), 'layer 2 content');
  assert.not.ok(lines.some((l) => l.startsWith('./etc/doomed')), 'whiteout applied');
  assert.equal(listings[1], listings[0], 'ext4 differs from initramfs');
  assert.equal(listings[2], listings[0], 'erofs differs from initramfs');
});

test('an ACI with a dependency boots with its user, group, working directory and environment', async () => {
  const acis = join(work, 'aci');
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'fixtures/make-aci.ts'), acis], { cwd: ROOT, stdio: 'ignore' });
  const out = join(work, 'aci-bundle');
  build(`aci:${join(acis, 'app.aci')}`, out, ['--aci-path', join(acis, 'deps')]);
  assert.is(boot(out, ['sh', '-c', 'id -u; id -g; pwd; echo "$GREETING"; cat /etc/motd']), '1000\n4321\n/home/app\nhello world\napp motd replaces base\n');
  // Without overrides the ACI's own exec runs.
  const r = hyperbuild(['boot', '--network', 'none', out], { env: kernelEnv });
  assert.is(r.stdout, 'hello from an ACI: hello world\n', r.stderr);
});

test.run();
