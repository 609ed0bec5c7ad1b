/**
 * `push --as kubevirt` against a real registry (Debian's docker-registry),
 * read back by other tools: skopeo copies it into an OCI layout as an
 * ordinary image (not an artifact), umoci unpacks it, and the kernel and the
 * initrd are at the paths the `export --format kubevirt` VirtualMachine names,
 * owned by KubeVirt's qemu user (107:107). Pushing twice gives the same
 * digest. There is no Kubernetes here: what KubeVirt's kernelBoot then does
 * (libvirt direct kernel boot on q35) is done with plain QEMU on the unpacked
 * files, with KubeVirt's masquerade addresses, and the pushed overrides run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { hyperbuild, type CliResult } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';
import { startRegistry, type RegistryServer } from './helpers/registry-server.ts';

let registry: RegistryServer;
const work = tempDir('export-kubevirt');
const bundle = join(work, 'web');

test.before(async () => {
  registry = await startRegistry({ kind: 'open' });
  ok(hyperbuild(['build', 'oci:fixtures/out/busybox:hello', '-o', bundle], { from: 'source' }), 'build');
});

test.after(async () => {
  await registry?.stop();
});

function ok(r: CliResult, what: string): CliResult {
  assert.is(r.status, 0, `${what}: ${r.stdout}${r.stderr}`);
  return r;
}

const OVERRIDE = ['-e', 'WHERE=in the cluster', '--', 'sh', '-c', 'echo "hello $WHERE from $(ip -4 addr show eth0 | grep -o "inet [0-9./]*")"; exit 5'];

function push(tag: string): { manifestDigest: string; files: string[]; reference: string } {
  const r = ok(hyperbuild(['push', bundle, `${registry.host}/demo/web-vm:${tag}`, '--as', 'kubevirt', '--json', ...OVERRIDE], { from: 'source' }), `push ${tag}`);
  return JSON.parse(r.stdout);
}

const skopeo = (...args: string[]) => execFileSync('skopeo', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

test('an ordinary OCI image, reproducible, with kernel and initrd at the exported paths, owned by qemu', () => {
  const first = push('1');
  const second = push('again');
  assert.is(second.manifestDigest, first.manifestDigest, 'same bundle, same spec: same image');
  assert.equal(first.files, ['/boot/kernel', '/boot/initrd']);

  const src = `docker://${registry.host}/demo/web-vm:1`;
  const manifest = JSON.parse(skopeo('inspect', '--tls-verify=false', '--raw', src));
  assert.is(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.is(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json', 'an image config, not an artifact');
  assert.is(manifest.artifactType, undefined);
  assert.equal(manifest.layers.map((l: { mediaType: string }) => l.mediaType), ['application/vnd.oci.image.layer.v1.tar']);
  const config = JSON.parse(skopeo('inspect', '--tls-verify=false', '--config', src));
  assert.is(config.os, 'linux');
  assert.is(config.architecture, 'amd64');
  assert.equal(config.rootfs.diff_ids, [manifest.layers[0].digest], 'an uncompressed layer: diff_id = digest');

  const layout = join(work, 'layout');
  skopeo('copy', '--preserve-digests', '--src-tls-verify=false', src, `oci:${layout}:1`);
  const unpacked = join(work, 'unpacked');
  execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:1`, unpacked], { stdio: 'pipe' });
  const rootfs = join(unpacked, 'rootfs');
  const m = JSON.parse(readFileSync(join(bundle, 'bundle.json'), 'utf8'));
  const kernel = readFileSync(join(rootfs, 'boot/kernel'));
  assert.is(m.kernel.compression, 'gzip', 'the bundle stores its kernel compressed');
  assert.ok(kernel.equals(gunzipSync(readFileSync(join(bundle, m.kernel.name)))), 'the bundle\'s kernel, unpacked (KubeVirt loads it as it is)');
  assert.equal([kernel.length, sha256Digest(kernel)], [m.kernel.uncompressedSize, m.kernel.uncompressedDigest]);
  const initrd = readFileSync(join(rootfs, 'boot/initrd'));
  const initramfs = readFileSync(join(bundle, m.initramfs.name));
  assert.ok(initrd.subarray(0, initramfs.length).equals(initramfs), 'the initrd starts with the bundle\'s initramfs');
  const tail = initrd.subarray(initramfs.length).toString('latin1');
  assert.match(tail, /070701/, 'followed by a newc archive');
  const record = (key: string, value: string) => `${key} ${value.length}\n${value}\n`;
  assert.ok(tail.includes(record('env', 'WHERE=in the cluster')), 'holding the pushed overrides');
  assert.ok(tail.includes(record('net', 'eth0 10.0.2.2/24 10.0.2.1')), 'and KubeVirt\'s masquerade addresses');

  const blob = join(layout, 'blobs', 'sha256', manifest.layers[0].digest.slice('sha256:'.length));
  const listing = execFileSync('tar', ['--numeric-owner', '-tvf', blob], { encoding: 'utf8' }).trim().split('\n');
  assert.is(listing.length, 3, listing.join('\n'));
  for (const line of listing) assert.match(line, /^\S+ 107\/107 /, line);
  assert.equal(listing.map((l) => l.split(/\s+/).pop()), ['boot/', 'boot/kernel', 'boot/initrd']);
  assert.ok(statSync(join(rootfs, 'boot/initrd')).size === initrd.length);

  // What KubeVirt does with it: libvirt direct kernel boot on q35 with the YAML's kernelArgs,
  // the guest behind a NAT at 10.0.2.2 with gateway 10.0.2.1.
  const yaml = join(work, 'web-vm.yaml');
  ok(hyperbuild(['export', bundle, '--format', 'kubevirt', '--image', `${registry.host}/demo/web-vm:1`, '-o', yaml], { from: 'source' }), 'export');
  const vm = parseYaml(readFileSync(yaml, 'utf8'));
  const kb = vm.spec.template.spec.domain.firmware.kernelBoot;
  assert.is(kb.container.image, `${registry.host}/demo/web-vm:1`);
  const boot = spawnSync('qemu-system-x86_64', [
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot', '-M', 'q35', '-accel', 'tcg', '-m', `${parseInt(vm.spec.template.spec.domain.resources.requests.memory, 10)}M`,
    '-kernel', join(rootfs, kb.container.kernelPath), '-initrd', join(rootfs, kb.container.initrdPath), '-append', kb.kernelArgs,
    '-chardev', 'stdio,id=con', '-serial', 'chardev:con',
    '-netdev', 'user,id=n0,net=10.0.2.0/24,host=10.0.2.1', '-device', 'virtio-net-pci,netdev=n0,romfile=',
  ], { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = boot.stdout.replaceAll('\r\n', '\n');
  assert.match(out, /^hello in the cluster from inet 10\.0\.2\.2\/24$/m, out + boot.stderr);
  assert.match(out, /^hyperstart: exit 5$/m);
});

test('what the kubevirt formats refuse: runtime flags on export (they travel in the image), a digest to push to', () => {
  const yaml = join(work, 'refused.yaml');
  const r = hyperbuild(['export', bundle, '--format', 'kubevirt', '--image', 'r.example/x:1', '-o', yaml, '-e', 'A=1'], { from: 'source' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /--env: the runtime spec travels in the kernelBoot image/);
  const noImage = hyperbuild(['export', bundle, '--format', 'kubevirt', '-o', yaml], { from: 'source' });
  assert.is(noImage.status, 2);
  assert.match(noImage.stderr, /needs --image REF/);
  const digest = hyperbuild(['push', bundle, `${registry.host}/demo/web-vm@sha256:${'0'.repeat(64)}`, '--as', 'kubevirt'], { from: 'source' });
  assert.is(digest.status, 2);
  assert.match(digest.stderr, /push to a tag/);
  const artifact = hyperbuild(['push', bundle, `${registry.host}/demo/plain:1`, '-e', 'A=1'], { from: 'source' });
  assert.is(artifact.status, 2);
  assert.match(artifact.stderr, /--env: a bundle artifact carries no runtime spec/);
});

test.run();
