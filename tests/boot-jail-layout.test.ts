/**
 * The jail's layout (toolchain/boot/jail.ts) as a pure function of the request
 * and host facts: seccomp always, the VM user only when hyperbuild is root,
 * bundle files as inherited descriptors (or copies when others cannot read
 * them), the disk through an fd set, volumes through proxy helpers, and
 * /dev/kvm's group under KVM. No VM, no root needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LaunchRequest } from '../toolchain/boot/hypervisor.ts';
import { buildQemuArgs } from '../toolchain/boot/backends/qemu.ts';
import { jailLayout, QEMU_SANDBOX, type JailFacts } from '../toolchain/boot/jail.ts';
import { HyperbuildError } from '../toolchain/errors/errors.ts';
import { launchRequest, minimalManifest, socketsIn } from './helpers/launch-request.ts';

function request(over: Partial<LaunchRequest> = {}, rootfs = false): LaunchRequest {
  return launchRequest({ manifest: minimalManifest(rootfs), channels: socketsIn('/j'), ...over });
}

const ROOT_FACTS: JailFacts = { identity: { user: 'hyperbuild-vm', uid: 999, gid: 995 }, othersMayRead: () => true };
const values = (args: readonly string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));

test('not root: seccomp only; QEMU reads the bundle where it is and serves volumes itself', () => {
  const vol = { tag: 'hbv0', hostPath: '/srv/data', guestPath: '/data', readOnly: true };
  const layout = jailLayout(request({ volumes: [vol] }), { othersMayRead: () => true });
  assert.equal(layout.args, ['-sandbox', QEMU_SANDBOX]);
  assert.is(layout.identity, undefined);
  assert.equal(layout.files, []);
  assert.equal(layout.proxies, []);
  const plan = buildQemuArgs(request({ volumes: [vol] }), { binary: 'qemu-system-x86_64', jail: layout });
  assert.equal(values(plan.args, '-sandbox'), ['on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny']);
  assert.equal(values(plan.args, '-kernel'), ['/b/vmlinux']);
  assert.equal(values(plan.args, '-fsdev'), ['local,id=fshbv0,path=/srv/data,security_model=none,readonly=on']);
});

test('root: the VM user, bundle files as fds 3 and 4, the disk through fd set 1, the guest named after its kernel', () => {
  const layout = jailLayout(request({}, true), ROOT_FACTS);
  assert.equal(layout.identity, { user: 'hyperbuild-vm', uid: 999, gid: 995 });
  assert.is(layout.gid, 995);
  assert.is(layout.dir, '/j');
  assert.equal(layout.sockets, ['/j/ctl.sock', '/j/out.sock', '/j/err.sock', '/j/con.sock']);
  assert.equal(layout.files, [
    { how: 'fd', hostPath: '/b/vmlinux', childFd: 3 },
    { how: 'fd', hostPath: '/b/initramfs.cpio.gz', childFd: 4 },
    { how: 'fd', hostPath: '/b/rootfs.ext4', childFd: 5 },
  ]);
  const plan = buildQemuArgs(request({}, true), { binary: 'qemu-system-x86_64', jail: layout });
  assert.equal(values(plan.args, '-kernel'), ['/proc/self/fd/3']);
  assert.equal(values(plan.args, '-initrd'), ['/proc/self/fd/4']);
  assert.equal(values(plan.args, '-add-fd'), ['fd=5,set=1,opaque=rootfs']);
  assert.ok(values(plan.args, '-drive')[0].startsWith('file=/dev/fdset/1,if=none,id=rootfs,format=raw,readonly=on'));
  assert.equal(values(plan.args, '-name'), ['/b/vmlinux']);
  assert.equal(values(plan.args, '-sandbox'), [QEMU_SANDBOX]);
});

test('root: a bundle file others cannot read is copied into the jail directory', () => {
  const layout = jailLayout(request(), { ...ROOT_FACTS, othersMayRead: (p) => !p.endsWith('vmlinux') });
  assert.equal(layout.files[0], { how: 'copy', hostPath: '/b/vmlinux', jailPath: '/j/bundle-vmlinux' });
  assert.equal(layout.files[1], { how: 'fd', hostPath: '/b/initramfs.cpio.gz', childFd: 3 });
  assert.is(layout.paths.vmlinux, '/j/bundle-vmlinux');
  assert.is(layout.paths['initramfs.cpio.gz'], '/proc/self/fd/3');
});

test('root: each volume is served by a proxy helper on a socket in the jail directory; read-only kept', () => {
  const volumes = [
    { tag: 'hbv0', hostPath: '/srv/a,b', guestPath: '/a', readOnly: false },
    { tag: 'hbv1', hostPath: '/srv/ro', guestPath: '/ro', readOnly: true },
  ];
  const layout = jailLayout(request({ volumes }), ROOT_FACTS);
  assert.equal(layout.proxies.map((p) => p.socket), ['/j/9p-hbv0.sock', '/j/9p-hbv1.sock']);
  const plan = buildQemuArgs(request({ volumes }), { binary: 'qemu-system-x86_64', jail: layout });
  assert.equal(values(plan.args, '-fsdev'), ['proxy,id=fshbv0,socket=/j/9p-hbv0.sock', 'proxy,id=fshbv1,socket=/j/9p-hbv1.sock,readonly=on']);
  assert.not.ok(plan.args.join(' ').includes('/srv/'), 'QEMU is never told the host path of a proxied volume');
});

test('root under KVM: QEMU runs with /dev/kvm\'s group when only the group may open it; unreachable → 125 with a hint', () => {
  const kvm = (mode: number, gid = 994): JailFacts => ({ ...ROOT_FACTS, kvm: { uid: 0, gid, mode: 0o20000 | mode } });
  assert.is(jailLayout(request({ accel: 'kvm' }), kvm(0o660)).gid, 994);
  assert.is(jailLayout(request({ accel: 'kvm' }), kvm(0o666)).gid, 995);
  assert.is(jailLayout(request({ accel: 'tcg' }), kvm(0o600)).gid, 995, 'TCG never needs /dev/kvm');
  try {
    jailLayout(request({ accel: 'kvm' }), kvm(0o600));
    assert.unreachable('a root-only /dev/kvm must be refused');
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.is((err as HyperbuildError).exitCode, 125);
    assert.match((err as Error).message, /\/dev\/kvm is not reachable by the VM user hyperbuild-vm \(mode 600\)/);
    assert.match((err as HyperbuildError).hint!, /chgrp kvm \/dev\/kvm && chmod 0660 \/dev\/kvm/);
  }
});

test('root: a host port the VM user may not bind is refused before boot (125, with the sysctl hint)', () => {
  const publish = [{ protocol: 'tcp' as const, hostIp: '127.0.0.1', hostPort: 80, guestPort: 80 }];
  assert.is(jailLayout(request({ publish }), { othersMayRead: () => true }).identity, undefined, 'not root: QEMU binds as us, nothing to refuse here');
  assert.ok(jailLayout(request({ publish }), { ...ROOT_FACTS, unprivilegedPortStart: 80 }));
  try {
    jailLayout(request({ publish }), { ...ROOT_FACTS, unprivilegedPortStart: 1024 });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.is((err as HyperbuildError).exitCode, 125);
    assert.match((err as Error).message, /^-p 80: the jailed QEMU runs as hyperbuild-vm, which may not bind host ports below 1024/);
    assert.match((err as HyperbuildError).hint!, /-p 8080:80|ip_unprivileged_port_start=80/);
  }
});

test.run();
