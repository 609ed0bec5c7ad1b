/**
 * kernel/check-config.sh must fail the build, naming the symbol, when Kconfig
 * drops or overrides a fragment line. Synthetic .config files cover the
 * checker's logic in milliseconds; the Kconfig runs use the real tinyconfig +
 * merge_config.sh + olddefconfig sequence of build.sh (no compile).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir } from '../toolchain/cache/cache-dir.ts';
import { kernelSourceDir, readHyperKernelKeyInputs, HYPERKERNEL_SOURCE_PACKAGE } from '../toolchain/kernel/cache-key.ts';

const checker = join(kernelSourceDir(), 'check-config.sh');
const fragmentPath = join(kernelSourceDir(), 'hyperkernel.config');
const scratch = mkdtempSync(join(tmpdir(), 'kernel-config-check-'));

function check(fragment: string, dotconfig: string): { status: number | null; stderr: string } {
  writeFileSync(join(scratch, 'fragment'), fragment);
  writeFileSync(join(scratch, 'dotconfig'), dotconfig);
  const r = spawnSync(checker, [join(scratch, 'fragment'), join(scratch, 'dotconfig')], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

test('checker: matching lines pass; prose comments are ignored', () => {
  const r = check('# prose\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S="x"\n', 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S="x"\nCONFIG_Z=y\n');
  assert.is(r.status, 0, r.stderr);
});

test('checker: "is not set" holds for a symbol Kconfig hid (absent from .config)', () => {
  assert.is(check('# CONFIG_SERIO is not set\n', 'CONFIG_A=y\n').status, 0);
});

test('checker: a dropped =y line fails and names the symbol', () => {
  const r = check('CONFIG_A=y\nCONFIG_GONE=y\n', 'CONFIG_A=y\n');
  assert.is(r.status, 1);
  assert.match(r.stderr, /CONFIG_GONE: wanted "CONFIG_GONE=y"/);
  assert.match(r.stderr, /1 of 2 fragment lines/);
});

test('checker: a line Kconfig overrode (=y wanted, not set got; not set wanted, =y got; other value) fails', () => {
  const r = check('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_N=64\n', '# CONFIG_A is not set\nCONFIG_B=y\nCONFIG_N=8\n');
  assert.is(r.status, 1);
  for (const sym of ['CONFIG_A', 'CONFIG_B', 'CONFIG_N']) assert.match(r.stderr, new RegExp(`${sym}: wanted`));
});

/**
 * A kernel tree to run Kconfig in: $HYPERKERNEL_SOURCE_TREE, the tree build.sh
 * unpacked into the default cache, or just the Kconfig/Makefile/scripts files
 * pulled out of the source tarball (kept in tmpdir for the next run).
 */
async function kconfigTree(): Promise<string> {
  if (process.env.HYPERKERNEL_SOURCE_TREE) return process.env.HYPERKERNEL_SOURCE_TREE;
  const { sourceVersion } = await readHyperKernelKeyInputs();
  const unpacked = join(defaultCacheDir(), 'kernels', '.work', `${HYPERKERNEL_SOURCE_PACKAGE}-${sourceVersion}`);
  if (existsSync(join(unpacked, 'Makefile'))) return unpacked;
  const partial = join(tmpdir(), `hyperbuild-kconfig-${HYPERKERNEL_SOURCE_PACKAGE}-${sourceVersion}`);
  if (existsSync(join(partial, 'Makefile'))) return partial;
  const tmp = `${partial}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  const top = HYPERKERNEL_SOURCE_PACKAGE;
  const r = spawnSync('tar', ['-xf', `/usr/src/${top}.tar.xz`, '-C', tmp, '--strip-components=1', '--wildcards',
    '*Kconfig*', '*Makefile*', '*Kbuild*', `${top}/scripts/*`, `${top}/arch/x86/configs/*`, `${top}/kernel/configs/*`, `${top}/include/*`], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  renameSync(tmp, partial);
  return partial;
}

/** build.sh's configure steps; returns the final .config path. */
function configure(tree: string, obj: string, fragment: string): string {
  const make = (target: string) => {
    const r = spawnSync('make', ['-s', '-C', tree, `O=${obj}`, 'ARCH=x86_64', target], { encoding: 'utf8' });
    assert.is(r.status, 0, `make ${target}: ${r.stderr}`);
  };
  if (!existsSync(join(obj, '.config.tiny'))) {
    mkdirSync(obj, { recursive: true });
    make('tinyconfig');
    copyFileSync(join(obj, '.config'), join(obj, '.config.tiny'));
  }
  copyFileSync(join(obj, '.config.tiny'), join(obj, '.config'));
  writeFileSync(join(obj, 'hyperkernel.config'), fragment);
  const merge = spawnSync(join(tree, 'scripts/kconfig/merge_config.sh'), ['-m', '.config', 'hyperkernel.config'], { cwd: obj, encoding: 'utf8' });
  assert.is(merge.status, 0, merge.stderr);
  make('olddefconfig');
  return join(obj, '.config');
}

const obj = join(scratch, 'obj');

test('kconfig: the real fragment survives tinyconfig + merge + olddefconfig intact, 64-bit', async () => {
  const fragment = readFileSync(fragmentPath, 'utf8');
  const config = configure(await kconfigTree(), obj, fragment);
  const r = spawnSync(checker, [fragmentPath, config], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const final = readFileSync(config, 'utf8');
  for (const line of ['CONFIG_64BIT=y', 'CONFIG_PVH=y', '# CONFIG_MODULES is not set', 'CONFIG_PHYSICAL_START=0x200000']) assert.ok(final.includes(`${line}\n`), line);
  for (const off of ['CONFIG_VT', 'CONFIG_INPUT', 'CONFIG_HID', 'CONFIG_CPU_FREQ', 'CONFIG_THERMAL', 'CONFIG_WLAN', 'CONFIG_USB_SUPPORT', 'CONFIG_SOUND']) {
    assert.not.ok(final.includes(`${off}=y\n`), `${off} must be off`);
  }
});

test('kconfig: dropped, misspelt and overridden lines fail the check, each symbol named', async () => {
  const fragment = readFileSync(fragmentPath, 'utf8') +
    // Depends on SOUND, which the fragment switches off: Kconfig drops it silently.
    'CONFIG_SND_HDA_INTEL=y\n' +
    // No such symbol.
    'CONFIG_VIRTIO_BLOCK=y\n' +
    // Selected by VIRTIO_BLK: olddefconfig turns it back on.
    '# CONFIG_VIRTIO is not set\n';
  const config = configure(await kconfigTree(), obj, fragment);
  writeFileSync(join(scratch, 'bad.config'), fragment);
  const r = spawnSync(checker, [join(scratch, 'bad.config'), config], { encoding: 'utf8' });
  assert.is(r.status, 1, 'the check must fail');
  assert.match(r.stderr, /CONFIG_SND_HDA_INTEL: wanted "CONFIG_SND_HDA_INTEL=y", got "\(absent/);
  assert.match(r.stderr, /CONFIG_VIRTIO_BLOCK: wanted/);
  assert.match(r.stderr, /CONFIG_VIRTIO: wanted "# CONFIG_VIRTIO is not set", got "CONFIG_VIRTIO=y"/);
});

test.after(() => rmSync(scratch, { recursive: true, force: true }));

test.run();
