/**
 * `hyperbuild export` without a VM: what each target refuses, the kernel
 * command line table, and each launch file checked field by field against its
 * target's documentation (Firecracker's swagger, Cloud Hypervisor's --help,
 * KubeVirt's API, libvirt's domain schema via virt-xml-validate). The qemu
 * and cloud-hypervisor scripts are checked by `sh -n`; the qemu one is booted
 * in export-qemu-boot.test.ts.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import type { BundleManifest } from '../toolchain/bundle/manifest.ts';
import { BadInputError, ExitCode } from '../toolchain/errors/errors.ts';
import { CMDLINE_TABLE, exportCmdline } from '../toolchain/export/cmdline-table.ts';
import { KUBEVIRT_INITRD_PATH, KUBEVIRT_KERNEL_PATH } from '../toolchain/export/kubevirt-layout.ts';
import { planExport, vmName, type ExportNetwork, type ExportPlan } from '../toolchain/export/plan.ts';
import { cloudHypervisorWords, renderCloudHypervisor } from '../toolchain/export/render-cloud-hypervisor.ts';
import { firecrackerConfig, renderFirecracker } from '../toolchain/export/render-firecracker.ts';
import { kubevirtVirtualMachine, renderKubevirt } from '../toolchain/export/render-kubevirt.ts';
import { renderLibvirt } from '../toolchain/export/render-libvirt.ts';
import { qemuWords, renderQemu } from '../toolchain/export/render-qemu.ts';
import { exportNetwork, KUBEVIRT_POD_NETWORK } from '../toolchain/export/runtime.ts';
import { shPath, shQuote } from '../toolchain/export/sh-script.ts';
import { checkExportRequest, EXPORT_TARGETS, type ExportTarget, type ExportWants } from '../toolchain/export/targets.ts';
import { rejectsBadInput } from './helpers/bad-input.ts';
import { tempDir } from './helpers/places.ts';

function manifest(over: { kernel?: Partial<BundleManifest['kernel']>; rootfs?: BundleManifest['rootfs'] } = {}): BundleManifest {
  return {
    source: { reference: 'oci:fixtures/out/busybox:hello', manifestDigest: '', configDigest: '', platform: 'linux/amd64' },
    image: { entrypoint: [], cmd: ['/bin/hello'], env: [], workingDir: '/', user: '', exposedPorts: [], volumes: [], labels: {} },
    kernel: { name: 'kernel', digest: '', size: 1, kind: 'hyperkernel', format: 'vmlinux', pvh: true, modular: false, ...over.kernel },
    initramfs: { name: 'initramfs.cpio.lz4', digest: '', size: 1, compression: 'lz4', uncompressedSize: 1 },
    rootfs: over.rootfs,
    cmdline: 'rdinit=/.hyperstart/init panic=-1',
    buildKey: 'sha256:00',
  } as unknown as BundleManifest;
}

const USER: ExportNetwork = exportNetwork('user', { publish: [{ protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80 }], dns: [] });
const NONE: ExportNetwork = exportNetwork('none', { publish: [], dns: [] });
const TAP: ExportNetwork = exportNetwork('tap', { publish: [], tap: 'tap0', dns: ['1.1.1.1'] });

function plan(target: ExportTarget, over: { network?: ExportNetwork; rootfs?: boolean; bzImage?: boolean; cpus?: number } = {}): ExportPlan {
  const m = manifest({
    kernel: over.bzImage ? { format: 'bzImage', pvh: false } : {},
    rootfs: over.rootfs ? { name: 'rootfs.ext4', digest: '', size: 1, type: 'ext4' } : undefined,
  });
  return planExport({
    target, bundleDir: '/b/web', manifest: m, kernelPath: '/b/web/kernel', initrdPath: '/out/web.initrd',
    rootfsPath: over.rootfs ? '/b/web/rootfs.ext4' : undefined, memoryMiB: 144, cpus: over.cpus ?? 2,
    network: over.network ?? NONE, accel: 'tcg', consoleLog: '/out/web.console.log', outDir: '/out',
  });
}

const wants = (w: Partial<ExportWants> = {}): ExportWants => ({ publishes: false, volumes: false, interactive: false, tty: false, cpus: 1, specFlags: [], ...w });

test('every target: refusals name the flag and the reason, exit 2', async () => {
  const m = manifest();
  await rejectsBadInput(() => checkExportRequest('firecracker', m, wants({ publishes: true, network: 'tap' })), /^--format firecracker: -p: Firecracker has no NAT/);
  await rejectsBadInput(() => checkExportRequest('cloud-hypervisor', m, wants({ publishes: true })), /-p: Cloud Hypervisor has no NAT/);
  await rejectsBadInput(() => checkExportRequest('libvirt', m, wants({ publishes: true })), /-p: libvirt's user network/);
  await rejectsBadInput(() => checkExportRequest('kubevirt', m, wants({ publishes: true })), /-p: KubeVirt publishes through a Service/);
  await rejectsBadInput(() => checkExportRequest('qemu', m, wants({ publishes: true, network: 'none' })), /-p: ports are forwarded only on the user network/);
  await rejectsBadInput(() => checkExportRequest('firecracker', m, wants({ network: 'user' })), /--network user: this target offers none, tap/);
  await rejectsBadInput(() => checkExportRequest('firecracker', manifest({ kernel: { format: 'bzImage', pvh: false } }), wants()), /kernel is a bzImage: this target boots only an ELF vmlinux/);
  await rejectsBadInput(() => checkExportRequest('firecracker', m, wants({ cpus: 3 })), /--cpus 3: this target takes 1 or an even number up to 32/);
  await rejectsBadInput(() => checkExportRequest('kubevirt', m, wants({ specFlags: ['--env', '-- COMMAND'] })), /--env, -- COMMAND: the runtime spec travels in the kernelBoot image/);
  for (const t of EXPORT_TARGETS) {
    await rejectsBadInput(() => checkExportRequest(t, m, wants({ volumes: true })), /-v: a volume is a directory of this host/);
    await rejectsBadInput(() => checkExportRequest(t, m, wants({ tty: true })), /-t: an exported VM runs in HyperStart's console mode/);
    await rejectsBadInput(() => checkExportRequest(t, m, wants({ interactive: true })), /-i: an exported VM runs in HyperStart's console mode/);
  }
  try {
    checkExportRequest('libvirt', m, wants({ publishes: true }));
  } catch (err) {
    assert.is((err as BadInputError).exitCode, ExitCode.usage);
    assert.ok((err as BadInputError).hint);
  }
});

test('what targets accept: their default network, bzImage where it boots, even vCPUs on Firecracker', () => {
  const m = manifest();
  assert.is(checkExportRequest('qemu', m, wants({ publishes: true })), 'user');
  assert.is(checkExportRequest('libvirt', m, wants()), 'user');
  assert.is(checkExportRequest('firecracker', m, wants({ cpus: 2 })), 'none');
  assert.is(checkExportRequest('cloud-hypervisor', manifest({ kernel: { format: 'bzImage', pvh: false } }), wants({ network: 'tap' })), 'tap');
  assert.is(checkExportRequest('kubevirt', m, wants()), 'pod');
});

test('networks: tap needs a device and checks addresses; KubeVirt masquerade addresses', async () => {
  assert.equal(TAP.guest, { mode: 'static', address: '172.16.0.2/30', gateway: '172.16.0.1', dns: ['1.1.1.1'] });
  await rejectsBadInput(() => exportNetwork('tap', { publish: [], dns: [] }), /--network tap needs --tap NAME/);
  await rejectsBadInput(() => exportNetwork('tap', { publish: [], tap: 't', guestAddress: '10.0.0.2', dns: [] }), /--guest-address '10.0.0.2' is not ADDRESS\/PREFIX/);
  await rejectsBadInput(() => exportNetwork('tap', { publish: [], tap: 't', gateway: 'x', dns: [] }), /--gateway 'x' is not an IPv4 address/);
  await rejectsBadInput(() => exportNetwork('none', { publish: [], tap: 't', dns: [] }), /need --network tap/);
  assert.equal(exportNetwork('pod', { publish: [], dns: [] }).guest, { ...KUBEVIRT_POD_NETWORK, dns: [] });
  assert.is(USER.guest.address, '10.0.2.15/24');
});

test('kernel command line: bundle words first, each table word once, per target', () => {
  assert.is(exportCmdline('firecracker', 'rdinit=/.hyperstart/init panic=-1'), 'rdinit=/.hyperstart/init panic=-1 console=ttyS0 reboot=k pci=off quiet');
  assert.is(exportCmdline('qemu', 'rdinit=/x'), 'rdinit=/x console=ttyS0 panic=-1 quiet');
  assert.is(exportCmdline('kubevirt', 'rdinit=/x console=hvc0'), 'rdinit=/x console=hvc0 panic=-1 quiet');
  // Firecracker's documented line, in full (docs/initrd.md).
  for (const w of ['console=ttyS0', 'reboot=k', 'panic=1', 'pci=off']) assert.ok(CMDLINE_TABLE.firecracker.words.includes(w), w);
  for (const t of EXPORT_TARGETS) assert.ok(CMDLINE_TABLE[t].source.length > 0, t);
});

test('names: a DNS-1123 label from any directory name', () => {
  assert.is(vmName('My_App.v2'), 'my-app-v2');
  assert.is(vmName('---'), 'hyperbuild-vm');
  assert.ok(vmName('x'.repeat(100)).length <= 63);
});

test('firecracker: every field is a documented one of firecracker.yaml, required ones present', () => {
  // src/firecracker/swagger/firecracker.yaml definitions: properties (required marked *).
  const documented: Record<string, { props: string[]; required: string[] }> = {
    'boot-source': { props: ['boot_args', 'initrd_path', 'kernel_image_path'], required: ['kernel_image_path'] },
    'machine-config': { props: ['cpu_template', 'smt', 'mem_size_mib', 'track_dirty_pages', 'vcpu_count', 'huge_pages'], required: ['mem_size_mib', 'vcpu_count'] },
    drives: { props: ['drive_id', 'partuuid', 'is_root_device', 'cache_type', 'is_read_only', 'path_on_host', 'rate_limiter', 'io_engine', 'socket'], required: ['drive_id', 'is_root_device'] },
    'network-interfaces': { props: ['guest_mac', 'host_dev_name', 'iface_id', 'mtu', 'rx_rate_limiter', 'tx_rate_limiter'], required: ['host_dev_name', 'iface_id'] },
  };
  const c = JSON.parse(renderFirecracker(plan('firecracker', { rootfs: true, network: TAP }))) as Record<string, unknown>;
  assert.equal(Object.keys(c).sort(), ['boot-source', 'drives', 'machine-config', 'network-interfaces']);
  for (const [key, doc] of Object.entries(documented)) {
    const objects = (Array.isArray(c[key]) ? c[key] : [c[key]]) as Record<string, unknown>[];
    assert.ok(objects.length > 0, key);
    for (const o of objects) {
      for (const k of Object.keys(o)) assert.ok(doc.props.includes(k), `${key}.${k} is not in firecracker.yaml`);
      for (const k of doc.required) assert.ok(k in o, `${key}.${k} is required`);
    }
  }
  assert.equal(c['boot-source'], { kernel_image_path: '/b/web/kernel', initrd_path: '/out/web.initrd', boot_args: 'rdinit=/.hyperstart/init panic=-1 console=ttyS0 reboot=k pci=off quiet' });
  assert.equal(c['machine-config'], { vcpu_count: 2, mem_size_mib: 144 });
  // With an initrd the disk is not the root device (docs/initrd.md); HyperStart mounts it read-only.
  assert.equal(c.drives, [{ drive_id: 'rootfs', path_on_host: '/b/web/rootfs.ext4', is_root_device: false, is_read_only: true }]);
  assert.equal(c['network-interfaces'], [{ iface_id: 'eth0', host_dev_name: 'tap0' }]);
  const bare = firecrackerConfig(plan('firecracker'));
  assert.equal(bare.drives, []);
  assert.not.ok('network-interfaces' in bare, 'network-interfaces only when asked');
});

test('cloud-hypervisor: the documented options, serial on stdout, virtio console off', () => {
  const words = cloudHypervisorWords(plan('cloud-hypervisor', { rootfs: true, network: TAP })).flat();
  const after = (flag: string) => words[words.indexOf(flag) + 1];
  assert.is(after('--kernel'), '/b/web/kernel');
  assert.is(after('--initramfs'), '"$here"/web.initrd');
  assert.is(after('--cmdline'), "'rdinit=/.hyperstart/init panic=-1 console=ttyS0 quiet'");
  assert.is(after('--cpus'), 'boot=2');
  assert.is(after('--memory'), 'size=144M');
  assert.is(after('--serial'), 'tty');
  assert.is(after('--console'), 'off');
  assert.is(after('--disk'), 'path=/b/web/rootfs.ext4,readonly=on');
  assert.is(after('--net'), 'tap=tap0');
  assert.not.ok(cloudHypervisorWords(plan('cloud-hypervisor')).flat().includes('--net'));
});

test('kubevirt: a VirtualMachine with kernelBoot, resources, serial console, pod network', () => {
  // A parsed document, checked field by field below.
  const doc: any = parseYaml(renderKubevirt(plan('kubevirt', { rootfs: true, network: exportNetwork('pod', { publish: [], dns: [] }) }), 'reg.example/web-vm:1'));
  assert.equal(doc, kubevirtVirtualMachine(plan('kubevirt', { rootfs: true }), 'reg.example/web-vm:1'));
  assert.is(doc.apiVersion, 'kubevirt.io/v1');
  assert.is(doc.kind, 'VirtualMachine');
  assert.is(doc.metadata.name, 'web');
  assert.is(doc.spec.runStrategy, 'Once');
  const spec = doc.spec.template.spec;
  assert.equal(spec.domain.firmware.kernelBoot, {
    kernelArgs: 'rdinit=/.hyperstart/init panic=-1 console=ttyS0 quiet',
    container: { image: 'reg.example/web-vm:1', kernelPath: KUBEVIRT_KERNEL_PATH, initrdPath: KUBEVIRT_INITRD_PATH, imagePullPolicy: 'IfNotPresent' },
  });
  assert.equal(spec.domain.resources, { requests: { memory: '144Mi' } });
  assert.equal(spec.domain.cpu, { cores: 2 });
  assert.is(spec.domain.devices.autoattachSerialConsole, true);
  assert.equal(spec.domain.devices.interfaces, [{ name: 'default', masquerade: {} }]);
  assert.equal(spec.networks, [{ name: 'default', pod: {} }]);
  assert.equal(spec.domain.devices.disks, [{ name: 'rootfs', disk: { bus: 'virtio', readonly: true } }]);
  assert.equal(spec.volumes, [{ name: 'rootfs', containerDisk: { image: 'reg.example/web-vm:1', path: '/disk/rootfs.ext4' } }]);
  const bare = kubevirtVirtualMachine(plan('kubevirt'), 'r/x:1') as { spec: { template: { spec: object } } };
  assert.not.ok('volumes' in bare.spec.template.spec);
});

test('libvirt: direct kernel boot, serial to a file, destroy on power-off; valid against libvirt\'s schema', () => {
  const xml = renderLibvirt(plan('libvirt', { rootfs: true, network: USER }));
  for (const part of [
    "<domain type='qemu'>", '<name>web</name>', "<memory unit='MiB'>144</memory>", '<vcpu>2</vcpu>',
    "<type arch='x86_64' machine='q35'>hvm</type>", '<kernel>/b/web/kernel</kernel>', '<initrd>/out/web.initrd</initrd>',
    '<cmdline>rdinit=/.hyperstart/init panic=-1 console=ttyS0 quiet</cmdline>',
    "<serial type='file'>", "<source path='/out/web.console.log'/>", '<on_poweroff>destroy</on_poweroff>', '<on_reboot>destroy</on_reboot>',
    "<interface type='user'>", "<source file='/b/web/rootfs.ext4'/>", '<readonly/>',
  ]) assert.ok(xml.includes(part), part);
  const dir = tempDir('export-libvirt');
  for (const [name, text] of [['full.xml', xml], ['none.xml', renderLibvirt(plan('libvirt'))], ['kvm.xml', renderLibvirt({ ...plan('libvirt'), accel: 'kvm' })]]) {
    writeFileSync(join(dir, name), text);
    const r = spawnSync('virt-xml-validate', [join(dir, name), 'domain'], { encoding: 'utf8' });
    assert.is(r.error, undefined, 'virt-xml-validate (libvirt-clients, make deps) must be installed');
    assert.is(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
  }
  // Comments cannot hold `--`, whatever the paths are.
  const odd = renderLibvirt({ ...plan('libvirt'), source: { bundleDir: '/b/a--b', reference: 'x--y', buildKey: '' } });
  writeFileSync(join(dir, 'odd.xml'), odd);
  assert.is(spawnSync('virt-xml-validate', [join(dir, 'odd.xml'), 'domain']).status, 0);
});

test('qemu: microvm for PVH, q35 for bzImage; forwards, read-only disk; sh parses the script', () => {
  const micro = qemuWords(plan('qemu', { network: USER, rootfs: true })).flat();
  assert.ok(micro.some((w) => w.startsWith('microvm,')));
  assert.ok(micro.includes('user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80'));
  assert.ok(micro.includes('file=/b/web/rootfs.ext4,if=none,id=rootfs,format=raw,readonly=on'));
  assert.ok(micro.includes('virtio-blk-device,drive=rootfs'));
  const q35 = qemuWords(plan('qemu', { bzImage: true, network: USER })).flat();
  assert.ok(q35.includes('q35'));
  assert.ok(q35.includes('virtio-net-pci,netdev=net0,romfile='));
  assert.not.ok(q35.some((w) => w.includes('$tsc')), 'q35 has a PIT: no TSC hint');
  assert.not.ok(qemuWords(plan('qemu')).flat().includes('-netdev'), '--network none: no NIC');
  const dir = tempDir('export-sh');
  for (const [name, text] of [['q.sh', renderQemu(plan('qemu', { rootfs: true, network: USER }))], ['c.sh', renderCloudHypervisor(plan('cloud-hypervisor', { network: TAP }))]]) {
    writeFileSync(join(dir, name), text);
    const r = spawnSync('sh', ['-n', join(dir, name)], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
  }
});

test('sh quoting survives any byte sh can hold; companion paths are script-relative', () => {
  for (const word of ["it's", 'a b', '$HOME', '`x`', 'back\\slash', 'new\nline', '', '-e']) {
    // The quoted word is evaluated by sh as script text, as in the generated scripts.
    assert.is(execFileSync('sh', ['-c', 'eval "printf %s $1"', 'sh', shQuote(word)], { encoding: 'utf8' }), word);
  }
  assert.is(shPath('/out/web.initrd', '/out'), '"$here"/web.initrd');
  assert.is(shPath('/elsewhere/kernel', '/out'), '/elsewhere/kernel');
  assert.is(shPath('/out dir/x', '/tmp'), "'/out dir/x'");
});

test.run();
