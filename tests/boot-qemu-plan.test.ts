import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleManifest } from '../toolchain/bundle/manifest.ts';
import { chooseAccel, type AccelProbe } from '../toolchain/boot/accel.ts';
import type { LaunchRequest } from '../toolchain/boot/hypervisor.ts';
import { composeCmdline } from '../toolchain/boot/kernel-cmdline.ts';
import { buildQemuArgs, qemuMachineFor, QemuHypervisor, type QemuHost } from '../toolchain/boot/backends/qemu.ts';
import { tscKhz } from '../toolchain/boot/tsc-frequency.ts';
import { HyperbuildError } from '../toolchain/errors/errors.ts';
import { launchRequest } from './helpers/launch-request.ts';

function manifest(kernel: Partial<BundleManifest['kernel']>): BundleManifest {
  return {
    kernel: { name: 'vmlinux', digest: '', size: 1, kind: 'hyperkernel', format: 'vmlinux', pvh: true, modular: false, ...kernel },
    initramfs: { name: 'initramfs.cpio.gz', digest: '', size: 1, compression: 'gzip', uncompressedSize: 1 },
    cmdline: 'rdinit=/.hyperstart/init',
  } as BundleManifest;
}

function request(over: Partial<LaunchRequest> = {}): LaunchRequest {
  return launchRequest({ manifest: manifest({}), cpus: 2, ...over });
}

const HOST: QemuHost = { binary: 'qemu-system-x86_64', tscKhz: 2_096_021 };
const qemuPlan = (r: LaunchRequest) => buildQemuArgs(r, HOST);

/** The value following `flag` each time it occurs. */
const values = (args: readonly string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

test('PVH vmlinux → microvm with virtio-pci devices (not MMIO: 16 MiB of queue buffers) and no legacy devices', () => {
  const plan = qemuPlan(request());
  assert.is(plan.machine, 'microvm');
  assert.equal(values(plan.args, '-M'), ['microvm,x-option-roms=off,pit=off,pic=off,rtc=on,isa-serial=on,acpi=on,pcie=on']);
  const devices = values(plan.args, '-device');
  assert.ok(devices.some((d) => d.startsWith('virtio-serial-pci,')));
  assert.ok(devices.some((d) => d.startsWith('virtio-net-pci,') && d.endsWith(',romfile=')));
  assert.not.ok(devices.some((d) => /^virtio-[a-z0-9]+-device,/.test(d)), 'no virtio-mmio device');
  for (const f of ['-nodefaults', '-no-user-config', '-nographic', '-no-reboot']) assert.ok(plan.args.includes(f), f);
  assert.equal(values(plan.args, '-kernel'), ['/b/vmlinux']);
  assert.equal(values(plan.args, '-initrd'), ['/b/initramfs.cpio.gz']);
  assert.equal(values(plan.args, '-m'), ['128M']);
  assert.equal(values(plan.args, '-smp'), ['2']);
});

test('bzImage, or vmlinux without PVH → q35 with virtio-pci and no option ROMs', () => {
  assert.is(qemuMachineFor({ format: 'bzImage', pvh: false }), 'q35');
  assert.is(qemuMachineFor({ format: 'vmlinux', pvh: false }), 'q35');
  const plan = qemuPlan(request({ manifest: manifest({ name: 'bzImage', format: 'bzImage', pvh: false }) }));
  assert.is(plan.machine, 'q35');
  assert.equal(values(plan.args, '-M'), ['q35']);
  const devices = values(plan.args, '-device');
  assert.ok(devices.some((d) => d.startsWith('virtio-serial-pci,')));
  assert.ok(devices.includes('virtio-net-pci,netdev=net0,romfile='));
  assert.not.ok(plan.cmdline.includes('tsc_early_khz'), 'q35 has a PIT to calibrate against');
});

test('TCG uses -cpu max, KVM -cpu host; tsc_early_khz only for microvm under TCG', () => {
  const tcg = qemuPlan(request({ accel: 'tcg' }));
  assert.equal(values(tcg.args, '-accel'), ['tcg']);
  assert.equal(values(tcg.args, '-cpu'), ['max']);
  assert.ok(tcg.cmdline.includes('tsc_early_khz=2096021'));
  const kvm = qemuPlan(request({ accel: 'kvm' }));
  assert.equal(values(kvm.args, '-accel'), ['kvm']);
  assert.equal(values(kvm.args, '-cpu'), ['host']);
  assert.not.ok(kvm.cmdline.includes('tsc_early_khz'));
});

test('channels: named virtio-serial ports and the console, all connecting to our sockets', () => {
  const plan = qemuPlan(request());
  const chardevs = values(plan.args, '-chardev');
  assert.equal(chardevs, [
    'socket,id=con,path=/t/con.sock', 'socket,id=ctl,path=/t/ctl.sock',
    'socket,id=out,path=/t/out.sock', 'socket,id=err,path=/t/err.sock',
  ]);
  assert.not.ok(chardevs.some((c) => c.includes('server=on')), 'hyperbuild listens, QEMU connects');
  const ports = values(plan.args, '-device').filter((d) => d.startsWith('virtserialport'));
  assert.equal(ports.map((p) => /name=([^,]+)/.exec(p)![1]), ['org.hyperbuild.ctl', 'org.hyperbuild.stdout', 'org.hyperbuild.stderr']);
  assert.equal(values(plan.args, '-serial'), ['chardev:con']);
});

test('publish → hostfwd; --network none → no NIC at all', () => {
  const plan = qemuPlan(request({ publish: [
    { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80 },
    { protocol: 'udp', hostIp: '0.0.0.0', hostPort: 5353, guestPort: 53 },
  ] }));
  assert.equal(values(plan.args, '-netdev'), ['user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53']);
  const none = qemuPlan(request({ network: 'none' }));
  assert.equal(values(none.args, '-netdev'), []);
  assert.not.ok(values(none.args, '-device').some((d) => d.includes('net')));
});

test('volumes → fsdev + virtio-9p, read-only honoured, commas in paths escaped', () => {
  const plan = qemuPlan(request({ volumes: [
    { tag: 'hbv0', hostPath: '/data/a,b', guestPath: '/data', readOnly: false },
    { tag: 'hbv1', hostPath: '/etc/x', guestPath: '/x', readOnly: true },
  ] }));
  assert.equal(values(plan.args, '-fsdev'), [
    'local,id=fshbv0,path=/data/a,,b,security_model=none',
    'local,id=fshbv1,path=/etc/x,security_model=none,readonly=on',
  ]);
  assert.ok(values(plan.args, '-device').includes('virtio-9p-pci,fsdev=fshbv0,mount_tag=hbv0'));
  const q35 = qemuPlan(request({ manifest: manifest({ format: 'bzImage', pvh: false }), volumes: [{ tag: 'hbv0', hostPath: '/d', guestPath: '/d', readOnly: false }] }));
  assert.ok(values(q35.args, '-device').includes('virtio-9p-pci,fsdev=fshbv0,mount_tag=hbv0'));
});

test('a disk rootfs is attached read-only as virtio-blk', () => {
  const m = { ...manifest({}), rootfs: { name: 'rootfs.erofs', digest: '', size: 1, type: 'erofs' as const } };
  const plan = qemuPlan(request({ manifest: m }));
  assert.equal(values(plan.args, '-drive'), ['file=/b/rootfs.erofs,if=none,id=rootfs,format=raw,readonly=on']);
  assert.ok(values(plan.args, '-device').includes('virtio-blk-pci,drive=rootfs,romfile='));
  assert.equal(values(qemuPlan(request()).args, '-drive'), []);
});

test('the plan is opaque to the session: describe() is the command line --verbose shows', () => {
  const plan = qemuPlan(request());
  assert.is(plan.hypervisor, 'qemu');
  assert.is(plan.describe(), ['qemu-system-x86_64', ...plan.args].join(' '));
  assert.ok(plan.args.includes(plan.cmdline), 'the cmdline is what -append gets');
});

test('the backend looks up its host facts itself: binary (HYPERBUILD_QEMU), TSC, accelerator probe', async () => {
  const hv = new QemuHypervisor({
    env: { HYPERBUILD_QEMU: 'true' }, tscKhz: () => 1_234_567,
    accelProbe: () => ({ platform: 'linux', kvmDeviceUsable: true, kvmModules: ['kvm', 'kvm_pvm'] }),
  });
  const decision = hv.chooseAccel('auto');
  assert.is(decision.accel, 'tcg');
  assert.match(decision.notice!, /kvm_pvm/);
  const plan = await hv.prepare(request({ accel: decision.accel }));
  assert.ok(plan.describe().startsWith('true -nodefaults '));
  assert.ok(plan.cmdline.includes('tsc_early_khz=1234567'));
  const missing = new QemuHypervisor({ env: { HYPERBUILD_QEMU: '/nonexistent/qemu' } });
  try {
    await missing.prepare(request());
    assert.unreachable();
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.is((err as HyperbuildError).exitCode, 125);
    assert.is((err as HyperbuildError).hint, 'apt-get install qemu-system-x86');
  }
});

test('kernel command line: bundle first, machine bits added once, quiet unless verbose', () => {
  assert.is(composeCmdline('rdinit=/.hyperstart/init', { verbose: false }), 'rdinit=/.hyperstart/init console=ttyS0 panic=-1 quiet');
  assert.is(composeCmdline('rdinit=/x quiet', { verbose: true }), 'rdinit=/x console=ttyS0 panic=-1');
  assert.is(composeCmdline('console=hvc0 panic=5', { verbose: false, tscKhz: 1000 }), 'console=hvc0 panic=5 quiet tsc_early_khz=1000 tsc=reliable');
});

test('host TSC: sysfs wins, else /proc/cpuinfo cpu MHz', () => {
  assert.is(tscKhz({ sysfsKhz: '2995200\n', cpuinfo: 'cpu MHz\t\t: 1000.000\n' }), 2_995_200);
  assert.is(tscKhz({ cpuinfo: 'processor\t: 0\ncpu MHz\t\t: 2096.021\n' }), 2_096_021);
  assert.is(tscKhz({}), undefined);
});

const probe = (over: Partial<AccelProbe>): AccelProbe => ({ platform: 'linux', kvmDeviceUsable: true, kvmModules: ['kvm', 'kvm_intel'], ...over });

test('accel auto: KVM only with kvm_intel/kvm_amd behind /dev/kvm', () => {
  assert.equal(chooseAccel('auto', probe({})), { accel: 'kvm' });
  assert.equal(chooseAccel('auto', probe({ kvmModules: ['kvm', 'kvm_amd'] })), { accel: 'kvm' });
  const pvm = chooseAccel('auto', probe({ kvmModules: ['kvm', 'kvm_pvm'] }));
  assert.is(pvm.accel, 'tcg');
  assert.match(pvm.notice!, /kvm_pvm/);
  assert.not.match(pvm.notice!, /\n/);
  assert.is(chooseAccel('auto', probe({ kvmDeviceUsable: false })).accel, 'tcg');
  assert.equal(chooseAccel('tcg', probe({})), { accel: 'tcg' });
});

test('accel kvm forced where it cannot work → clear error; hvf off macOS → error', () => {
  try {
    chooseAccel('kvm', probe({ kvmModules: ['kvm', 'kvm_pvm'] }));
    assert.unreachable();
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.match((err as Error).message, /KVM is not usable.*kvm_pvm/);
    assert.match((err as HyperbuildError).hint!, /--accel tcg/);
  }
  assert.throws(() => chooseAccel('hvf', probe({})), /macOS/);
  assert.equal(chooseAccel('auto', probe({ platform: 'darwin' })), { accel: 'hvf' });
});

test.run();
