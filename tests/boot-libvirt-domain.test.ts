/**
 * The libvirt backend without libvirtd: the domain XML as a pure function
 * (checked against libvirt's own schema with virt-xml-validate when
 * libvirt-clients is installed), where the bundle's files and volumes go, the
 * connection probe's refusals, and who libvirt's QEMU runs as.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LaunchRequest } from '../toolchain/boot/hypervisor.ts';
import { libvirtDomainXml, passthroughArgs, type DomainPlacement } from '../toolchain/boot/backends/libvirt-domain.ts';
import { checkProbe, LibvirtHypervisor, planLibvirtLaunch, qemuIdentityFrom, versionAtLeast } from '../toolchain/boot/backends/libvirt.ts';
import { hypervisorByName } from '../toolchain/boot/backends/registry.ts';
import { HyperbuildError } from '../toolchain/errors/errors.ts';
import { tempDir } from './helpers/places.ts';
import { launchRequest, minimalManifest, socketsIn } from './helpers/launch-request.ts';

function request(over: Partial<LaunchRequest> = {}, rootfs = false): LaunchRequest {
  return launchRequest({ manifest: minimalManifest(rootfs), memoryMiB: 160, cpus: 2, channels: socketsIn('/j'), ...over });
}

const placement = (over: Partial<DomainPlacement> = {}): DomainPlacement => ({
  name: 'hyperbuild-test', paths: { vmlinux: '/b/vmlinux', 'initramfs.cpio.gz': '/b/initramfs.cpio.gz', 'rootfs.ext4': '/b/rootfs.ext4' }, proxySockets: {}, ...over,
});

const work = tempDir('libvirt-xml');
const haveValidator = spawnSync('virt-xml-validate', ['--help']).error === undefined;
/** virt-xml-validate's verdict on the XML against libvirt's domain schema. */
function validate(xml: string): { ok: boolean; out: string } {
  const file = join(work, `d${Math.random().toString(36).slice(2)}.xml`);
  writeFileSync(file, xml);
  const r = spawnSync('virt-xml-validate', [file, 'domain'], { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

test('a plain boot: transient q35 domain, direct kernel boot, destroy on power-off, console and ports on our sockets, slirp NIC', () => {
  const xml = libvirtDomainXml(request(), placement());
  assert.match(xml, /^<domain type='qemu'>/);
  assert.match(xml, /<type arch='x86_64' machine='q35'>hvm<\/type>/);
  assert.match(xml, /<kernel>\/b\/vmlinux<\/kernel>\n\s+<initrd>\/b\/initramfs.cpio.gz<\/initrd>/);
  assert.match(xml, /<cmdline>rdinit=\/.hyperstart\/init console=ttyS0 panic=-1 quiet<\/cmdline>/);
  assert.match(xml, /<memory unit='MiB'>160<\/memory>\n\s+<vcpu>2<\/vcpu>/);
  assert.match(xml, /<cpu mode='maximum'\/>/);
  for (const e of ['on_poweroff', 'on_reboot', 'on_crash']) assert.match(xml, new RegExp(`<${e}>destroy</${e}>`));
  assert.match(xml, /<serial type='unix'>\n\s+<source mode='connect' path='\/j\/con.sock'\/>/);
  for (const [sock, port] of [['ctl', 'org.hyperbuild.ctl'], ['out', 'org.hyperbuild.stdout'], ['err', 'org.hyperbuild.stderr']]) {
    assert.match(xml, new RegExp(`<source mode='connect' path='/j/${sock}.sock'/>\\n\\s+<target type='virtio' name='${port.replaceAll('.', '\\.')}'/>`));
  }
  assert.match(xml, /<interface type='user'>\n\s+<model type='virtio'\/>\n\s+<rom enabled='no'\/>/);
  assert.not.match(xml, /qemu:commandline|xmlns:qemu/);
  if (haveValidator) { const v = validate(xml); assert.ok(v.ok, v.out); }
});

test('KVM: kvm domain, host CPU; --network none: no NIC at all', () => {
  const xml = libvirtDomainXml(request({ accel: 'kvm', network: 'none' }), placement());
  assert.match(xml, /^<domain type='kvm'>/);
  assert.match(xml, /<cpu mode='host-passthrough'\/>/);
  assert.not.match(xml, /<interface/);
});

test('port forwards: slirp hostfwd through qemu:commandline on a free root-bus slot, instead of libvirt\'s NIC', () => {
  const r = request({ publish: [{ protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80 }, { protocol: 'udp', hostIp: '0.0.0.0', hostPort: 5353, guestPort: 53 }] });
  const xml = libvirtDomainXml(r, placement());
  assert.match(xml, /^<domain type='qemu' xmlns:qemu='http:\/\/libvirt.org\/schemas\/domain\/qemu\/1.0'>/);
  assert.not.match(xml, /<interface/);
  assert.equal(passthroughArgs(r, placement()), [
    '-netdev', 'user,id=hbnet0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53',
    '-device', 'virtio-net-pci,netdev=hbnet0,romfile=,bus=pcie.0,addr=0x10',
  ]);
  assert.match(xml, /<qemu:arg value='-netdev'\/>\n\s+<qemu:arg value='user,id=hbnet0,hostfwd=tcp:127\.0\.0\.1:8080-:80,/);
  if (haveValidator) { const v = validate(xml); assert.ok(v.ok, v.out); }
});

test('volumes: native <filesystem> (squash) unless proxied; proxied ones as -fsdev proxy on the jail socket, read-only kept; the disk read-only as vda', () => {
  const volumes = [
    { tag: 'hbv0', hostPath: "/srv/it's", guestPath: '/a', readOnly: true },
    { tag: 'hbv1', hostPath: '/srv/b', guestPath: '/b', readOnly: true },
  ];
  const r = request({ volumes }, true);
  const xml = libvirtDomainXml(r, placement({ proxySockets: { hbv1: '/j/9p-hbv1.sock' } }));
  assert.match(xml, /<filesystem type='mount' accessmode='squash'>\n\s+<source dir='\/srv\/it&apos;s'\/>\n\s+<target dir='hbv0'\/>\n\s+<readonly\/>/);
  assert.not.match(xml, /\/srv\/b/, 'a proxied volume\'s host path is not QEMU\'s business');
  assert.match(xml, /<qemu:arg value='proxy,id=fshbv1,socket=\/j\/9p-hbv1.sock,readonly=on'\/>/);
  assert.match(xml, /<qemu:arg value='virtio-9p-pci,fsdev=fshbv1,mount_tag=hbv1,bus=pcie.0,addr=0x10'\/>/);
  assert.match(xml, /<disk type='file' device='disk'>\n\s+<driver name='qemu' type='raw'\/>\n\s+<source file='\/b\/rootfs.ext4'\/>\n\s+<target dev='vda' bus='virtio'\/>\n\s+<readonly\/>/);
  if (haveValidator) { const v = validate(xml); assert.ok(v.ok, v.out); }
});

test('placement: with another QEMU user the bundle files are staged in the 0700 channel directory; without one they stay', () => {
  const id = { user: 'uid 999', uid: 999, gid: 995 };
  const staged = planLibvirtLaunch(request({ volumes: [{ tag: 'hbv0', hostPath: '/v', guestPath: '/v', readOnly: false }] }, true), { virsh: 'virsh' }, id, 'hb-x');
  assert.equal(staged.staged.map((s) => s.jailPath), ['/j/bundle-vmlinux', '/j/bundle-initramfs.cpio.gz', '/j/bundle-rootfs.ext4']);
  assert.match(staged.xml, /<kernel>\/j\/bundle-vmlinux<\/kernel>/);
  assert.is(staged.xmlPath, '/j/domain.xml');
  if (process.geteuid?.() === 0) assert.equal(staged.placement.proxySockets, { hbv0: '/j/9p-hbv0.sock' });
  const same = planLibvirtLaunch(request({}, true), { virsh: 'virsh' }, undefined, 'hb-y');
  assert.equal(same.staged, []);
  assert.match(same.xml, /<kernel>\/b\/vmlinux<\/kernel>/);
});

test('probe: the QEMU driver of libvirt 7.1 or newer, else 125 with a hint', () => {
  const ok = checkProbe('qemu:///system\n\nCompiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.22\nRunning against daemon: 9.0.0\n');
  assert.equal(ok, { uri: 'qemu:///system', daemonVersion: '9.0.0', hypervisor: 'QEMU 7.2.22' });
  assert.ok(versionAtLeast('7.1.0', [7, 1, 0]) && versionAtLeast('10.0', [7, 1, 0]) && !versionAtLeast('6.10.0', [7, 1, 0]));
  const refused = (out: string, re: RegExp) => {
    try { checkProbe(out); assert.unreachable(); } catch (err) {
      assert.instance(err, HyperbuildError);
      assert.is((err as HyperbuildError).exitCode, 125);
      assert.match((err as Error).message, re);
      assert.ok((err as HyperbuildError).hint);
    }
  };
  refused('xen:///system\nRunning hypervisor: Xen 4.17.0\nRunning against daemon: 9.0.0\n', /QEMU driver only; xen:\/\/\/system runs Xen 4\.17\.0/);
  refused('qemu:///session\nRunning hypervisor: QEMU 5.2.0\nRunning against daemon: 6.0.0\n', /libvirt 6\.0\.0 at qemu:\/\/\/session lacks <cpu mode='maximum'>/);
});

test('who libvirt\'s QEMU runs as: the DAC base label (system), the daemon socket\'s owner (session), nobody else when it is us', () => {
  const caps = "<secmodel>\n  <model>dac</model>\n  <doi>0</doi>\n  <baselabel type='kvm'>+64055:+64055</baselabel>\n  <baselabel type='qemu'>+64055:+64055</baselabel>\n</secmodel>";
  assert.equal(qemuIdentityFrom('qemu:///system', { capabilitiesXml: caps, selfUid: 0 }), { user: 'uid 64055', uid: 64055, gid: 64055 });
  assert.equal(qemuIdentityFrom('qemu:///session', { sessionSocketOwner: { uid: 999, gid: 995 }, selfUid: 0 }), { user: 'uid 999', uid: 999, gid: 995 });
  assert.is(qemuIdentityFrom('qemu:///session', { sessionSocketOwner: { uid: 1000, gid: 1000 }, selfUid: 1000 }), undefined);
  assert.is(qemuIdentityFrom('qemu:///system', { capabilitiesXml: '<secmodel><model>none</model></secmodel>', selfUid: 0 }), undefined);
});

test('missing virsh or no daemon: prepare() fails with one line, the install or start hint, 125; --connect only with libvirt', async () => {
  const missing = new LibvirtHypervisor(undefined, { env: { HYPERBUILD_VIRSH: '/nonexistent/virsh' } });
  try { await missing.prepare(request()); assert.unreachable(); } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.is((err as HyperbuildError).exitCode, 125);
    assert.is((err as Error).message, '/nonexistent/virsh not found');
    assert.match((err as HyperbuildError).hint!, /apt-get install libvirt-clients/);
  }
  if (spawnSync('virsh', ['--version']).status === 0) {
    const refused = new LibvirtHypervisor(`qemu+unix:///session?socket=${join(work, 'no-such-sock')}`);
    try { await refused.prepare(request()); assert.unreachable(); } catch (err) {
      assert.instance(err, HyperbuildError);
      assert.is((err as HyperbuildError).exitCode, 125);
      assert.match((err as Error).message, /^cannot connect to libvirt at qemu\+unix:\/\/\/session\?socket=.*no-such-sock: .*No such file or directory$/);
      assert.not.match((err as Error).message, /\n/);
      assert.match((err as HyperbuildError).hint!, /start libvirtd/);
    }
  }
  assert.is(hypervisorByName('libvirt', { connect: 'qemu:///session' }).name, 'libvirt');
  assert.throws(() => hypervisorByName('qemu', { connect: 'qemu:///session' }), /--connect is libvirt's/);
});

test.run();
