/**
 * An L1 virtual machine that can run KVM, built by hyperbuild itself from
 * this host's files, for tests/boot-kvm-nested.test.ts. QEMU's TCG emulates
 * AMD SVM with nested paging (`-cpu max`), so the Debian cloud kernel in an L1
 * guest under TCG can load kvm_amd, and hyperbuild inside it boots an L2
 * bundle under real (nested) KVM.
 *
 * The L1 image is a directory staged here — busybox, node, QEMU and the
 * shared libraries ldd names for them, QEMU's firmware (found under
 * <bindir>/../share/qemu, so QEMU sits in /usr/bin), getent (the jail looks
 * the VM user up), /etc/passwd and /etc/group (node needs a passwd; the jail
 * needs hyperbuild-vm and a kvm group), the built CLI (bin/, dist/,
 * package.json), the L2 bundle, the cloud kernel's kvm modules — packed as a
 * one-layer OCI layout and built with `hyperbuild build --kernel debian-cloud
 * --rootfs ext4`: a read-only ext4 disk, so the ~200 MB stay out of L1's RAM.
 *
 * The kvm modules come from the same linux-image package as the cached cloud
 * kernel (`apt-get download`, cached beside it as test-kvm-modules/RELEASE/).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultCacheDir } from '../../toolchain/cache/cache-dir.ts';
import { resolveKernel } from '../../toolchain/kernel/resolve-kernel.ts';
import { hyperbuild, ROOT } from './cli.ts';

export const KVM_MODULES = ['irqbypass', 'kvm', 'kvm-amd'] as const;
const kernelCache = process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir();

/** kvm.ko, kvm-amd.ko, irqbypass.ko of the cached Debian cloud kernel's exact release. */
export async function cloudKvmModules(): Promise<Record<string, string>> {
  const cloud = await resolveKernel({ cacheDir: kernelCache, kernelPath: 'debian-cloud' });
  const cloudDir = dirname(cloud.path);
  const release = readFileSync(join(cloudDir, 'release'), 'utf8').trim();
  const version = readFileSync(join(cloudDir, 'package-version'), 'utf8').trim();
  const dir = join(kernelCache, 'test-kvm-modules', release);
  const paths = Object.fromEntries(KVM_MODULES.map((m) => [m, join(dir, `${m}.ko`)]));
  if (KVM_MODULES.every((m) => existsSync(paths[m]))) return paths;
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(tmp, { recursive: true });
  execFileSync('apt-get', ['download', '-q', `linux-image-${release}=${version}`], { cwd: tmp, stdio: 'ignore' });
  const deb = readdirSync(tmp).find((n) => n.endsWith('.deb'))!;
  execFileSync('dpkg-deb', ['-x', join(tmp, deb), join(tmp, 'root')]);
  const mods = join(tmp, 'root/lib/modules', release, 'kernel');
  const where: Record<string, string> = { irqbypass: 'virt/lib/irqbypass.ko', kvm: 'arch/x86/kvm/kvm.ko', 'kvm-amd': 'arch/x86/kvm/kvm-amd.ko' };
  mkdirSync(dir, { recursive: true });
  for (const m of KVM_MODULES) copyFileSync(join(mods, where[m]), paths[m]);
  execFileSync('rm', ['-rf', tmp]);
  return paths;
}

/** Copy a host file to the same path under root (resolving symlinks), creating parents. */
function place(root: string, hostPath: string, mode?: number): void {
  const to = join(root, hostPath);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(realpathSync(hostPath), to);
  if (mode !== undefined) chmodSync(to, mode);
}

/** A program and every shared library ldd resolves for it, at the paths the loader looks in. */
function placeWithLibraries(root: string, program: string): void {
  place(root, program, 0o755);
  const ldd = execFileSync('ldd', [program], { encoding: 'utf8' });
  for (const line of ldd.split('\n')) {
    const lib = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+ld-linux\S*)/.exec(line)?.[1];
    if (lib && !existsSync(join(root, lib))) place(root, lib);
  }
}

function busybox(root: string): void {
  const bb = existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox';
  place(root, '/bin/busybox', 0o755);
  if (bb !== '/bin/busybox') copyFileSync(bb, join(root, 'bin/busybox'));
  for (const a of execFileSync(bb, ['--list'], { encoding: 'utf8' }).split('\n').filter((x) => x && x !== 'busybox')) {
    if (!existsSync(join(root, 'bin', a))) symlinkSync('busybox', join(root, 'bin', a));
  }
  symlinkSync('bin', join(root, 'sbin'));
}

/** The users and groups L1 needs: node wants a passwd entry; the jail wants hyperbuild-vm and /dev/kvm's group. */
function etc(root: string): void {
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nhyperbuild-vm:x:999:995::/nonexistent:/bin/false\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nkvm:x:994:\nhyperbuild-vm:x:995:\n');
  writeFileSync(join(root, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\n');
  for (const d of ['root', 'tmp', 'proc', 'sys', 'dev', 'run', 'nonexistent']) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, 'tmp'), 0o1777);
}

function hyperbuildInstall(root: string): void {
  const to = join(root, 'opt/hyperbuild');
  mkdirSync(to, { recursive: true });
  cpSync(join(ROOT, 'bin'), join(to, 'bin'), { recursive: true });
  cpSync(join(ROOT, 'dist'), join(to, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  copyFileSync(join(ROOT, 'package.json'), join(to, 'package.json'));
  // The package root is found by package.json beside initramfs/ (HyperStart's binary lives there).
  mkdirSync(join(to, 'initramfs/hyperstart/out'), { recursive: true });
  copyFileSync(join(ROOT, 'initramfs/hyperstart/out/hyperstart'), join(to, 'initramfs/hyperstart/out/hyperstart'));
}

/** Stage the L1 root filesystem: everything `hyperbuild boot` needs to run a bundle under KVM. */
export async function stageL1(root: string, l2Bundle: string, script: string): Promise<void> {
  busybox(root);
  etc(root);
  for (const p of ['/usr/bin/qemu-system-x86_64', '/usr/bin/getent']) placeWithLibraries(root, p);
  // node as /usr/bin/node wherever it lives here (the L1 script calls it by that name).
  placeWithLibraries(root, process.execPath);
  if (realpathSync(process.execPath) !== '/usr/bin/node') place(root, process.execPath), copyFileSync(process.execPath, join(root, 'usr/bin/node'));
  cpSync('/usr/share/qemu', join(root, 'usr/share/qemu'), { recursive: true, dereference: true });
  hyperbuildInstall(root);
  cpSync(l2Bundle, join(root, 'l2/bundle'), { recursive: true });
  const mods = await cloudKvmModules();
  mkdirSync(join(root, 'l1/kvm'), { recursive: true });
  for (const m of KVM_MODULES) copyFileSync(mods[m], join(root, 'l1/kvm', `${m}.ko`));
  writeFileSync(join(root, 'l1/run.sh'), script, { mode: 0o755 });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A one-layer OCI image layout of `root` (GNU tar, numeric owners, fixed mtimes), tagged `l1`. */
export function ociLayout(root: string, layout: string): string {
  const tar = execFileSync('tar', ['--sort=name', '--mtime=@1700000000', '--numeric-owner', '--owner=0', '--group=0', '--format=pax', '-C', root, '-cf', '-', '.'], { maxBuffer: 1 << 30 });
  const blobs = join(layout, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (b: Buffer) => { const d = sha256(b); writeFileSync(join(blobs, d), b); return { digest: `sha256:${d}`, size: b.length }; };
  const layer = put(tar);
  const config = put(Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/usr/bin:/bin:/sbin', 'HOME=/root'], Cmd: ['/l1/run.sh'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  })));
  const manifest = put(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  })));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'l1' } }],
  }));
  return `oci:${layout}:l1`;
}

/** Build the L1 bundle with hyperbuild: the Debian cloud kernel (it ships kvm*.ko), the files on an ext4 disk. */
export function buildL1(ref: string, out: string, cacheDir: string): { status: number; stderr: string } {
  const r = hyperbuild(['build', ref, '-o', out, '--kernel', 'debian-cloud', '--rootfs', 'ext4', '--max-rootfs-size', '1G', '--cache-dir', cacheDir], {
    env: { HYPERBUILD_KERNEL_CACHE_DIR: kernelCache }, timeoutMs: 600_000,
  });
  return { status: r.status, stderr: r.stderr };
}

export function haveNestedPrerequisites(): boolean {
  const path = (process.env.PATH ?? '/usr/bin:/bin').split(':');
  return ['qemu-system-x86_64', 'getent', 'ldd', 'tar', 'apt-get', 'dpkg-deb'].every((p) => path.some((d) => existsSync(join(d, p))));
}
