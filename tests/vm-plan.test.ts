/**
 * The supervised launch of `run -d` as a pure plan (LaunchPlan.supervised(),
 * toolchain/boot/jail.ts supervisedJail): the same QEMU argv start() runs,
 * channel sockets in the VM's chan/ directory, and the jail as data for the
 * supervisor — identity, inherited bundle files, what to hand over — then the
 * supervisor's argv carrying it. No VM, no root needed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { LaunchRequest } from '../toolchain/boot/hypervisor.ts';
import { buildQemuArgs, QEMU_CAPABILITIES } from '../toolchain/boot/backends/qemu.ts';
import { jailLayout, type JailFacts } from '../toolchain/boot/jail.ts';
import { HyperbuildError } from '../toolchain/errors/errors.ts';
import { channelEndpoints } from '../toolchain/vm/create.ts';
import { supervisorArgs } from '../toolchain/vm/supervisor.ts';
import { launchRequest } from './helpers/launch-request.ts';

function request(over: Partial<LaunchRequest> = {}): LaunchRequest {
  return launchRequest({ channels: channelEndpoints('/run/hyperbuild/0123456789ab'), ...over });
}

const ROOT: JailFacts = { identity: { user: 'hyperbuild-vm', uid: 999, gid: 995 }, othersMayRead: () => true };
const USER: JailFacts = { othersMayRead: () => true };

test('QEMU can be supervised (capability detach), its channels in the VM directory\'s chan/', () => {
  assert.is(QEMU_CAPABILITIES.detach, 'supervisor');
  assert.equal(channelEndpoints('/s/abc'), { control: '/s/abc/chan/ctl.sock', stdout: '/s/abc/chan/out.sock', stderr: '/s/abc/chan/err.sock', console: '/s/abc/chan/con.sock' });
});

test('as a user: the supervised argv is start()\'s argv, nothing to inherit or hand over', () => {
  const r = request();
  const plan = buildQemuArgs(r, { binary: 'qemu-system-x86_64', jail: jailLayout(r, USER) });
  const s = plan.supervised!();
  assert.equal({ ...s, args: [...s.args] }, { command: 'qemu-system-x86_64', args: [...plan.args], files: [], handOver: [] });
  assert.ok(s.args.some((a) => a.includes('path=/run/hyperbuild/0123456789ab/chan/ctl.sock')));
});

test('as root: the jail for the supervisor — the VM user, the bundle files as fds 3 and 4, chan/ and its sockets handed over', () => {
  const r = request();
  const layout = jailLayout(r, ROOT);
  const s = buildQemuArgs(r, { binary: 'qemu-system-x86_64', jail: layout }).supervised!();
  assert.is(s.uid, 999);
  assert.is(s.gid, 995);
  assert.equal(s.files, [{ childFd: 3, hostPath: '/b/vmlinux' }, { childFd: 4, hostPath: '/b/initramfs.cpio.gz' }]);
  assert.ok(s.args.includes('/proc/self/fd/3') && s.args.includes('/proc/self/fd/4'), 'QEMU opens the inherited descriptors');
  const chan = '/run/hyperbuild/0123456789ab/chan';
  assert.equal(s.handOver, [chan, `${chan}/ctl.sock`, `${chan}/out.sock`, `${chan}/err.sock`, `${chan}/con.sock`]);
  const argv = supervisorArgs({ dir: '/run/hyperbuild/0123456789ab', version: '3', logMaxBytes: 1 << 20, tty: false, autoRemove: false, nameLink: '/run/hyperbuild/names/web', launch: s });
  assert.equal(argv.slice(argv.indexOf('--uid'), argv.indexOf('--')), [
    '--uid', '999', '--gid', '995', '--file', '3=/b/vmlinux', '--file', '4=/b/initramfs.cpio.gz',
    '--own', chan, '--own', `${chan}/ctl.sock`, '--own', `${chan}/out.sock`, '--own', `${chan}/err.sock`, '--own', `${chan}/con.sock`,
  ]);
  assert.equal(argv.slice(argv.indexOf('--') + 1), ['qemu-system-x86_64', ...s.args]);
});

test('as root, -v with -d is refused (exit 2) until the volume proxy is supervised', () => {
  const r = request({ volumes: [{ tag: 'hbv0', hostPath: '/srv', guestPath: '/data', readOnly: false }] });
  const plan = buildQemuArgs(r, { binary: 'qemu-system-x86_64', jail: jailLayout(r, ROOT) });
  try {
    plan.supervised!();
    assert.unreachable('refused');
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.is((err as HyperbuildError).exitCode, 2);
    assert.match((err as Error).message, '-v with -d as root');
  }
});

test.run();
