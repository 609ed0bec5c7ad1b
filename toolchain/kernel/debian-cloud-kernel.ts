/**
 * The fallback kernel: Debian's linux-image-cloud-amd64, a bzImage built
 * for VMs but modular (virtio and friends are .ko files), so HyperStart has
 * to insmod them from the initramfs before it can see its devices. It has no
 * 9p at all, so volumes are unavailable with it. It is downloaded once with
 * apt-get (no root needed for `apt-get download`), unpacked with dpkg-deb,
 * and cached as `<cacheDir>/kernels/debian-cloud-<version>/` keeping only
 * the kernel, its config and the modules hyperbuild needs.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HyperbuildError } from '../errors/errors.ts';
import { placeDirOnce } from '../fs/atomic.ts';
import { runHostCommand } from './host-command.ts';
import { DEBIAN_CLOUD_PREFIX, kernelsDir } from './kernel-cache.ts';
import { moduleLoadOrder, moduleName, parseModulesDep } from './module-order.ts';

export const DEBIAN_CLOUD_META_PACKAGE = 'linux-image-cloud-amd64';

/** What HyperStart needs from a modular kernel: both virtio transports, the devices it drives, and the filesystems of bundle roots. */
export const DEBIAN_CLOUD_MODULES = [
  'virtio_pci',
  'virtio_mmio',
  'virtio_console',
  'virtio_net',
  'virtio_blk',
  'virtio_rng',
  'erofs',
  'overlay',
  'vmw_vsock_virtio_transport',
] as const;

/** modules.load: module names in load order, one per line. */
const LOAD_LIST = 'modules.load';

export interface DebianCloudKernel {
  dir: string;
  vmlinuz: string;
  release: string;
  /** Debian version of the linux-image-<release> package. */
  packageVersion: string;
  modules: { name: string; hostPath: string }[];
}

/** The most recently fetched cloud kernel in the cache, if any (offline builds stay offline). */
export async function findCachedDebianCloudKernel(cacheDir: string): Promise<DebianCloudKernel | undefined> {
  const names = (await readdir(kernelsDir(cacheDir)).catch(() => [] as string[])).filter((n) => n.startsWith(DEBIAN_CLOUD_PREFIX));
  const found: { kernel: DebianCloudKernel; mtime: number }[] = [];
  for (const name of names) {
    const dir = join(kernelsDir(cacheDir), name);
    const kernel = await readEntry(dir).catch(() => undefined);
    if (kernel) found.push({ kernel, mtime: (await stat(dir)).mtimeMs });
  }
  return found.sort((a, b) => b.mtime - a.mtime)[0]?.kernel;
}

async function readEntry(dir: string): Promise<DebianCloudKernel> {
  const [release, packageVersion, load] = await Promise.all(
    ['release', 'package-version', LOAD_LIST].map(async (f) => (await readFile(join(dir, f), 'utf8')).trim()),
  );
  const vmlinuz = join(dir, 'vmlinuz');
  await stat(vmlinuz);
  const modules = load.split('\n').filter(Boolean).map((name) => ({ name, hostPath: join(dir, 'modules', `${name}.ko`) }));
  return { dir, vmlinuz, release, packageVersion, modules };
}

export async function fetchDebianCloudKernel(cacheDir: string, log: (line: string) => void = () => {}): Promise<DebianCloudKernel> {
  const kernels = kernelsDir(cacheDir);
  await mkdir(kernels, { recursive: true });
  const tmp = await mkdtemp(join(kernels, `.tmp-${DEBIAN_CLOUD_PREFIX}`));
  try {
    log(`downloading ${DEBIAN_CLOUD_META_PACKAGE} (apt-get download)`);
    // The metapackage names the current versioned image package; its exact
    // Depends (with "= version") ties what we fetch to what apt just saw.
    await aptDownload(DEBIAN_CLOUD_META_PACKAGE, tmp);
    const metaDeb = await findDeb(tmp, `${DEBIAN_CLOUD_META_PACKAGE}_`);
    const depends = await runHostCommand({ command: 'dpkg-deb', args: ['-f', metaDeb, 'Depends'], debianPackage: 'dpkg' });
    const m = /(linux-image-(\d[^\s,(]*-cloud-amd64))\s*\(=\s*([^)\s]+)\)/.exec(depends);
    if (!m) throw new HyperbuildError(`cannot find the versioned kernel package in ${DEBIAN_CLOUD_META_PACKAGE}'s Depends: ${depends.trim()}`);
    const [, pkg, release, version] = m;
    log(`downloading ${pkg} ${version}`);
    await aptDownload(`${pkg}=${version}`, tmp);
    const root = join(tmp, 'root');
    await runHostCommand({ command: 'dpkg-deb', args: ['-x', await findDeb(tmp, `${pkg}_`), root], debianPackage: 'dpkg' });

    // Bookworm ships modules under /lib, later releases under /usr/lib.
    const base = existsSync(join(root, 'lib', 'modules', release)) ? root : join(root, 'usr');
    const modDir = join(base, 'lib', 'modules', release);
    if (!existsSync(join(modDir, 'modules.dep'))) {
      // The package leaves modules.dep to the postinst's depmod; run it on the unpacked tree.
      const depmod = existsSync('/usr/sbin/depmod') ? '/usr/sbin/depmod' : 'depmod';
      await runHostCommand({ command: depmod, args: ['-b', base, release], debianPackage: 'kmod' });
    }
    const builtin = new Set(
      (await readFile(join(modDir, 'modules.builtin'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(moduleName),
    );
    const order = moduleLoadOrder(parseModulesDep(await readFile(join(modDir, 'modules.dep'), 'utf8')), DEBIAN_CLOUD_MODULES, builtin);

    const entry = join(tmp, 'entry');
    await mkdir(join(entry, 'modules'), { recursive: true });
    await copyFile(join(root, 'boot', `vmlinuz-${release}`), join(entry, 'vmlinuz'));
    await copyFile(join(root, 'boot', `config-${release}`), join(entry, '.config'));
    for (const mod of order) {
      if (!mod.path.endsWith('.ko')) {
        throw new HyperbuildError(`${pkg} ships compressed modules (${mod.path}); HyperStart loads plain .ko files`, { hint: 'use HyperKernel: run `make kernel`' });
      }
      await copyFile(join(modDir, mod.path), join(entry, 'modules', `${mod.name}.ko`));
    }
    await writeFile(join(entry, LOAD_LIST), order.map((mod) => `${mod.name}\n`).join(''));
    await writeFile(join(entry, 'release'), `${release}\n`);
    await writeFile(join(entry, 'package-version'), `${version}\n`);

    const final = join(kernels, `${DEBIAN_CLOUD_PREFIX}${version}`);
    // A concurrent fetch of the same version may have won; its entry is as good as ours.
    if (!existsSync(final)) await placeDirOnce(entry, final);
    log(`cached ${pkg} ${version} with ${order.length} modules at ${final}`);
    return readEntry(final);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function aptDownload(spec: string, cwd: string): Promise<void> {
  try {
    await runHostCommand({ command: 'apt-get', args: ['download', '-q', spec], cwd, debianPackage: 'apt' });
  } catch (err) {
    throw new HyperbuildError(`cannot download the Debian cloud kernel (${spec}): ${(err as Error).message}`, {
      hint: 'build HyperKernel instead (`make kernel`), pass --kernel PATH, or on Debian run `apt-get update` first',
      cause: err,
    });
  }
}

async function findDeb(dir: string, prefix: string): Promise<string> {
  const deb = (await readdir(dir)).find((n) => n.startsWith(prefix) && n.endsWith('.deb'));
  if (!deb) throw new HyperbuildError(`apt-get download left no ${prefix}*.deb in ${dir}`);
  return join(dir, deb);
}
