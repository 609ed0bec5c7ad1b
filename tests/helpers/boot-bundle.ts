/**
 * A bootable busybox bundle for boot tests, made without the image builder:
 * Debian's static busybox + applet links, /.hyperstart/init (the real HyperStart,
 * `make hyperstart`), /.hyperstart/spec, modules for a modular
 * kernel, packed as a gzip'd newc cpio, written with its bundle.json by the
 * bundle writer.
 *
 * Kernels, best first: the HyperKernel in the cache (PVH vmlinux, virtio built
 * in), else the Debian cloud kernel (modular: virtio modules packed in), either
 * as its bzImage (q35) or as the PVH vmlinux extracted from it (microvm).
 */
import { execFileSync, execSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE_MEDIA_TYPE, BUNDLE_SCHEMA_VERSION, type BundleManifest, type ImageRuntimeConfig } from '../../toolchain/bundle/manifest.ts';
import { readBundleManifest } from '../../toolchain/bundle/open-bundle.ts';
import { writeBundle } from '../../toolchain/bundle/write-bundle.ts';
import { sha256Digest } from '../../toolchain/digest/digest.ts';
import { encodeSpec } from '../../toolchain/hyperstart/spec.ts';
import { HYPERSTART_VERSION } from '../../toolchain/hyperstart/version.ts';
import { resolveKernel } from '../../toolchain/kernel/resolve-kernel.ts';
import { defaultCacheDir } from '../../toolchain/cache/cache-dir.ts';

const REPO = new URL('../../', import.meta.url).pathname;
export const REAL_HYPERSTART = join(REPO, 'initramfs/hyperstart/out/hyperstart');
// The kernels builds use: the cached HyperKernel and the Debian cloud kernel (downloaded once, with its module load order).
const kernelCache = process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir();
const cloud = await resolveKernel({ cacheDir: kernelCache, kernelPath: 'debian-cloud' });
const CLOUD_BZIMAGE = cloud.path;

export type TestKernelKind = 'hyperkernel' | 'cloud-vmlinux' | 'cloud-bzimage';

interface KernelChoice {
  kind: TestKernelKind;
  path: string;
  format: 'vmlinux' | 'bzImage';
  pvh: boolean;
  modular: boolean;
}

/** The HyperKernel's cached vmlinux, newest first, when the kernel build has produced one. */
export function findHyperKernel(): string | undefined {
  const root = join(kernelCache, 'kernels');
  if (!existsSync(root)) return undefined;
  const found = readdirSync(root)
    .filter((k) => !k.startsWith('debian-cloud'))
    .map((k) => join(root, k, 'vmlinux'))
    .filter((p) => existsSync(p) && statSync(p).size > 0)
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return found[0];
}

/** Decompress the vmlinux ELF out of the cloud bzImage (its payload is lz4 here). */
function extractCloudVmlinux(outDir: string): string {
  const out = join(outDir, 'extracted-cloud-vmlinux.elf');
  if (existsSync(out)) return out;
  const bz = readFileSync(CLOUD_BZIMAGE);
  const setupSects = bz[0x1f1] || 4;
  const payloadOffset = bz.readUInt32LE(0x248);
  const payloadLength = bz.readUInt32LE(0x24c);
  const start = (setupSects + 1) * 512 + payloadOffset;
  const payload = bz.subarray(start, start + payloadLength);
  const tool = payload.subarray(0, 4).equals(Buffer.from([0x02, 0x21, 0x4c, 0x18])) ? ['lz4', '-dc']
    : payload.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])) ? ['zstd', '-dc']
      : payload.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b])) ? ['gzip', '-dc'] : ['xz', '-dc'];
  // lz4 exits 1 on the size word the kernel appends after the frame; the ELF is complete anyway.
  const elf = spawnSync(tool[0], tool.slice(1), { input: payload, maxBuffer: 512 * 1024 * 1024 }).stdout;
  if (!elf || elf.length < 4 || elf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`cannot extract vmlinux from ${CLOUD_BZIMAGE}`);
  writeFileSync(out, elf);
  return out;
}

export function chooseKernel(kind: TestKernelKind | 'best', workDir: string): KernelChoice | undefined {
  const hk = findHyperKernel();
  if ((kind === 'best' || kind === 'hyperkernel') && hk) return { kind: 'hyperkernel', path: hk, format: 'vmlinux', pvh: true, modular: false };
  if (kind === 'hyperkernel') return undefined;
  // Under TCG the cloud kernel boots faster on q35 than on microvm, so 'best' falls back to its bzImage.
  if (kind === 'cloud-bzimage' || kind === 'best') return { kind: 'cloud-bzimage', path: CLOUD_BZIMAGE, format: 'bzImage', pvh: false, modular: true };
  return { kind: 'cloud-vmlinux', path: extractCloudVmlinux(workDir), format: 'vmlinux', pvh: true, modular: true };
}

export interface TestBundleOptions {
  dir: string;
  kernel?: TestKernelKind | 'best';
  image?: Partial<ImageRuntimeConfig>;
  /** Extra files to place in the rootfs: path → content. */
  files?: Record<string, string>;
}

export interface TestBundle {
  dir: string;
  manifest: BundleManifest;
  kernel: KernelChoice;
}

function busybox(): string {
  for (const p of ['/bin/busybox', '/usr/bin/busybox']) if (existsSync(p)) return p;
  throw new Error('busybox-static is not installed');
}

/** Build (or reuse, when a bundle is there) a test bundle in opts.dir, through the bundle writer. */
export async function makeTestBundle(opts: TestBundleOptions): Promise<TestBundle | undefined> {
  const work = join(opts.dir, '..');
  const kernel = chooseKernel(opts.kernel ?? 'best', work);
  if (!kernel) return undefined;
  if (!existsSync(REAL_HYPERSTART)) throw new Error(`${REAL_HYPERSTART} is missing: run \`make hyperstart\``);
  const existing = await readBundleManifest(opts.dir).catch(() => undefined);
  if (existing) return { dir: opts.dir, manifest: existing.manifest, kernel };
  rmSync(opts.dir, { recursive: true, force: true });
  // Files are made in a staging directory beside the bundle, then written by the bundle writer.
  const stage = `${opts.dir}.stage`;
  rmSync(stage, { recursive: true, force: true });
  const root = join(stage, '.root');
  mkdirSync(join(root, 'bin'), { recursive: true });
  for (const d of ['etc', 'tmp', 'root', 'home/user', 'www', 'proc', 'sys', 'dev', '.hyperstart']) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(busybox(), join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const applets = execFileSync(busybox(), ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(root, 'bin', a));
  symlinkSync('bin', join(root, 'sbin'));
  mkdirSync(join(root, 'usr'), { recursive: true });
  symlinkSync('../bin', join(root, 'usr/bin'));
  symlinkSync('../bin', join(root, 'usr/sbin'));
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
  writeFileSync(join(root, 'www/index.html'), 'hello from the guest\n');
  for (const [p, content] of Object.entries(opts.files ?? {})) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), content);
  }
  const init = REAL_HYPERSTART;
  copyFileSync(init, join(root, '.hyperstart/init'));
  chmodSync(join(root, '.hyperstart/init'), 0o755);

  const modules: string[] = [];
  if (kernel.modular) {
    mkdirSync(join(root, '.hyperstart/modules'), { recursive: true });
    for (const m of cloud.modules) {
      copyFileSync(m.hostPath, join(root, '.hyperstart/modules', `${m.name}.ko`));
      modules.push(`/.hyperstart/modules/${m.name}.ko`);
    }
  }
  const image: ImageRuntimeConfig = {
    entrypoint: [], cmd: ['sh', '-c', 'echo hello from hyperbuild'],
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'IMAGE_VAR=from-image'],
    workingDir: '/', user: '', exposedPorts: [], volumes: [], labels: {}, ...opts.image,
  };
  writeFileSync(join(root, '.hyperstart/spec'), encodeSpec({
    args: [...image.entrypoint, ...image.cmd], env: image.env, workdir: image.workingDir || undefined,
    user: image.user || undefined, modules,
  }));

  const initramfs = join(stage, 'initramfs.cpio.gz');
  execSync(`find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 | gzip -1 > ${JSON.stringify(initramfs)}`, { cwd: root, shell: '/bin/bash' });
  const uncompressedSize = Number(execSync(`gzip -dc ${JSON.stringify(initramfs)} | wc -c`, { encoding: 'utf8' }).trim());
  const kernelName = kernel.format === 'vmlinux' ? 'vmlinux' : 'bzImage';
  copyFileSync(kernel.path, join(stage, kernelName));
  rmSync(root, { recursive: true, force: true });

  const file = (name: string) => {
    const data = readFileSync(join(stage, name));
    return { name, digest: sha256Digest(data), size: data.length };
  };
  const manifest: BundleManifest = {
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    mediaType: BUNDLE_MEDIA_TYPE,
    source: { reference: 'test:busybox', manifestDigest: sha256Digest('m'), configDigest: sha256Digest('c'), platform: 'linux/amd64' },
    image,
    kernel: { ...file(kernelName), kind: kernel.kind === 'hyperkernel' ? 'hyperkernel' : 'debian-cloud', format: kernel.format, pvh: kernel.pvh, modular: kernel.modular },
    initramfs: { ...file('initramfs.cpio.gz'), compression: 'gzip', uncompressedSize },
    cmdline: 'rdinit=/.hyperstart/init',
    hyperstart: { version: HYPERSTART_VERSION, digest: sha256Digest(readFileSync(init)) },
    rootfsBytes: uncompressedSize,
    buildKey: sha256Digest('test bundle'),
  };
  await writeBundle(opts.dir, [kernelName, 'initramfs.cpio.gz'].map((name) => ({ name, from: join(stage, name) })), manifest, 'bundle');
  rmSync(stage, { recursive: true, force: true });
  return { dir: opts.dir, manifest, kernel };
}
