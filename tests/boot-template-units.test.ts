/**
 * VM templates without a guest: the QEMU template argv and its shape key (pure),
 * the guest link of a restored VM (pure), the template store (real files), and
 * the QMP client against a real QEMU with no machine (`-M none`, ~50 ms).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest } from '../toolchain/bundle/manifest.ts';
import { buildQemuArgs, type QemuHost } from '../toolchain/boot/backends/qemu.ts';
import { qemuShapeKey, templateEligible, templateRequest } from '../toolchain/boot/backends/qemu-template.ts';
import { QmpError, QmpListener } from '../toolchain/boot/backends/qmp.ts';
import { GuestLink, type LinkAction } from '../toolchain/boot/guest-link.ts';
import type { LaunchRequest } from '../toolchain/boot/hypervisor.ts';
import { MAX_TEMPLATES, TEMPLATE_RECORD, templateKey, TemplateStore } from '../toolchain/boot/template/template-store.ts';
import { encodeFrame, FrameDecoder } from '../toolchain/hyperstart/protocol.ts';
import { hyperbuild } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';
import { launchRequest } from './helpers/launch-request.ts';

const manifest = {
  kernel: { name: 'vmlinux', digest: '', size: 1, kind: 'hyperkernel', format: 'vmlinux', pvh: true, modular: false },
  initramfs: { name: 'initramfs.cpio.gz', digest: '', size: 1, compression: 'gzip', uncompressedSize: 1 },
  cmdline: 'rdinit=/.hyperstart/init',
} as BundleManifest;

function request(over: Partial<LaunchRequest> = {}): LaunchRequest {
  return launchRequest({ manifest, ...over });
}
const HOST: QemuHost = { binary: 'qemu-system-x86_64', tscKhz: 2_000_000, version: 'QEMU emulator version 7.2.22' };
const values = (args: readonly string[], flag: string) => args.flatMap((a, i) => (a === flag ? [args[i + 1]] : []));
const shape = (r: LaunchRequest, host: QemuHost = HOST) => buildQemuArgs(r, host).snapshots?.shape;

test('template argv: RAM in a file (shared for the template, private for a clone), a QMP monitor, -incoming defer', () => {
  const x = { memory: { path: '/tpl/ram', share: true }, monitor: '/t/qmp.sock', sockets: [], incoming: false };
  const save = buildQemuArgs(request(), HOST, x);
  assert.ok(values(save.args, '-M')[0].endsWith(',memory-backend=mem'));
  assert.equal(values(save.args, '-object'), ['memory-backend-file,id=mem,size=128M,mem-path=/tpl/ram,share=on']);
  assert.equal(values(save.args, '-mon'), ['chardev=qmp,mode=control']);
  assert.ok(values(save.args, '-chardev').includes('socket,id=qmp,path=/t/qmp.sock'), 'QEMU connects to our monitor socket');
  assert.equal(values(save.args, '-incoming'), []);
  assert.is(save.snapshots, undefined, 'a template VM offers no templates of its own');
  const clone = buildQemuArgs(request(), HOST, { ...x, memory: { path: '/tpl/ram', share: false }, incoming: true });
  assert.equal(values(clone.args, '-object'), ['memory-backend-file,id=mem,size=128M,mem-path=/tpl/ram,share=off']);
  assert.equal(values(clone.args, '-incoming'), ['defer']);
  const q35 = buildQemuArgs(request({ manifest: { ...manifest, kernel: { ...manifest.kernel, format: 'bzImage', pvh: false } } }), HOST, x);
  assert.equal(values(q35.args, '-M'), ['q35,memory-backend=mem']);
});

test('shape key: the same for every run of one machine shape, different when anything the saved VM depends on changes', () => {
  const base = shape(request())!;
  assert.match(base, /^sha256:[0-9a-f]{64}$/);
  // Per-run paths, published ports (added after restore) and --verbose are not part of the machine.
  assert.is(shape(request({ bundleDir: '/elsewhere', channels: { control: '/u/c', stdout: '/u/o', stderr: '/u/e', console: '/u/k' } })), base);
  assert.is(shape(request({ publish: [{ protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80 }] })), base);
  assert.is(shape(request({ verbose: true })), base);
  for (const [what, other] of [
    ['memory', shape(request({ memoryMiB: 256 }))], ['cpus', shape(request({ cpus: 2 }))], ['accel', shape(request({ accel: 'kvm' }))],
    ['network', shape(request({ network: 'none' }))], ['QEMU version', shape(request(), { ...HOST, version: 'QEMU emulator version 8.0.0' })],
    ['TSC rate (kernel cmdline)', shape(request(), { ...HOST, tscKhz: 2_100_000 })],
    ['disk', shape(request({ manifest: { ...manifest, rootfs: { name: 'rootfs.ext4', digest: '', size: 1, type: 'ext4' } } }))],
  ] as const) assert.is.not(other, base, what);
  assert.is(qemuShapeKey('v', ['a']), qemuShapeKey('v', ['a']));
  assert.equal(templateRequest(request({ verbose: true, publish: [{ protocol: 'udp', hostIp: '0.0.0.0', hostPort: 1, guestPort: 2 }] })), request());
});

test('volumes (host paths that change from run to run) boot cold; without a known QEMU version there are no templates', () => {
  const v = request({ volumes: [{ tag: 'hbv0', hostPath: '/d', guestPath: '/d', readOnly: false }] });
  assert.not.ok(templateEligible(v));
  assert.is(buildQemuArgs(v, HOST).snapshots, undefined);
  assert.is(buildQemuArgs(request(), { binary: 'qemu-system-x86_64' }).snapshots, undefined);
  assert.equal(buildQemuArgs(request(), HOST).snapshots!.files, ['ram', 'state']);
});

test('a restored guest link sends S as it starts (the guest will not say H again), then runs as usual', () => {
  let clock = 5_000;
  const link = new GuestLink({
    spec: { args: ['true'], env: [] }, version: '1', tty: false, interactive: false, stopTimeoutMs: 1_000,
    now: () => clock, startedAt: 4_960, windowSize: () => undefined, restored: true,
  });
  const sent = (actions: LinkAction[]) => actions.flatMap((a) => (a.type === 'send' ? new FrameDecoder().push(a.frame).map((f) => f.type) : []));
  const first = link.start();
  assert.equal(sent(first), ['S']);
  assert.ok(first.some((a) => a.type === 'note' && /restored from a VM template in 40 ms/.test(a.line)));
  assert.is(link.state, 'spec-sent');
  assert.equal(link.handle({ type: 'control', chunk: encodeFrame('H', Buffer.from('hyperstart 1')) }), [], 'a late H is ignored');
  clock += 10;
  assert.equal(sent(link.handle({ type: 'control', chunk: encodeFrame('R') })), ['E']);
  assert.is(link.state, 'running');
});

test('a disposable link (a template clone) kills the VM as soon as the announced output is in, and keeps the app\'s code', () => {
  const link = new GuestLink({
    spec: { args: ['true'], env: [] }, version: '1', tty: false, interactive: false, stopTimeoutMs: 1_000,
    now: () => 0, startedAt: 0, windowSize: () => undefined, restored: true, disposable: true,
  });
  link.start();
  link.handle({ type: 'control', chunk: encodeFrame('R') });
  const x = Buffer.alloc(20);
  x.writeUInt32BE(5, 0);
  x.writeBigUInt64BE(3n, 4);
  assert.equal(link.handle({ type: 'control', chunk: encodeFrame('X', x) }).map((a) => a.type), ['set-timer']);
  const drained = link.handle({ type: 'output', stream: 'stdout', bytes: 3 }).map((a) => a.type);
  assert.equal(drained, ['clear-timer', 'send', 'kill-vm', 'set-timer'], 'B, then the kill, without waiting for the power-off');
  const done = link.handle({ type: 'vm-exited', exit: { code: null, signal: 'SIGKILL', diagnostics: '' } }).find((a) => a.type === 'done');
  assert.equal(done && done.type === 'done' && [done.result.exitCode, done.result.outcome], [5, 'exited']);
});

test('template store: made whole or not at all, verified before use, a changed file is refused, LRU beyond the cap', async () => {
  const cache = tempDir('tpl-store');
  const store = new TemplateStore(cache);
  assert.is(await store.prepareRoot(), undefined);
  assert.is(statSync(store.root).mode & 0o777, 0o700);
  const key = templateKey('sha256:bundle', 'sha256:shape');
  assert.equal(await store.find(key, ['ram', 'state']), { status: 'absent' });
  await store.create(key, { bundleDigest: 'sha256:x', shape: 's', parts: {} }, ['ram', 'state'], async () => { throw new Error('boot failed'); }).then(() => assert.unreachable(), (e: Error) => assert.is(e.message, 'boot failed'));
  assert.equal((await store.list()).length, 0, 'a failed make leaves nothing behind');
  const made = await store.create(key, { bundleDigest: 'sha256:bundle', shape: 'sha256:shape', parts: { memoryMiB: 128 } }, ['ram', 'state'], async (dir) => {
    writeFileSync(join(dir, 'ram'), Buffer.alloc(8192, 1));
    writeFileSync(join(dir, 'state'), 'device state');
  });
  assert.is(made.dir, store.dirFor(key));
  assert.is(made.record.files.state.size, 12);
  assert.is((await store.find(key, ['ram', 'state'])).status, 'ready');
  const missing = await store.find(key, ['ram', 'state', 'extra']);
  assert.is(missing.status === 'bad' && missing.reason, `${TEMPLATE_RECORD} does not list extra`);
  // Same size, other bytes: the stat identity changes, so the memo rehashes and the digest differs.
  writeFileSync(join(made.dir, 'state'), 'DEVICE STATE');
  const bad = await store.find(key, ['ram', 'state']);
  assert.is(bad.status === 'bad' && bad.reason, 'state does not match its recorded digest (changed or corrupted)');
  writeFileSync(join(made.dir, TEMPLATE_RECORD), '{');
  assert.match(JSON.stringify(await store.find(key, ['state'])), /unreadable/);

  for (let i = 0; i < MAX_TEMPLATES + 2; i++) {
    await store.create(templateKey(`b${i}`, 's'), { bundleDigest: `b${i}`, shape: 's', parts: {} }, ['state'], async (dir) => writeFileSync(join(dir, 'state'), `${i}`));
  }
  const kept = await store.list();
  assert.is(kept.filter((e) => e.record).length, MAX_TEMPLATES);
  assert.is(kept[0].record!.bundleDigest, `b${MAX_TEMPLATES + 1}`, 'the newest first');
  assert.ok(kept.every((e) => e.diskBytes > 0));

  // Many first boots at once: one makes the template, the others are told to boot cold; a stale claim is taken over.
  const release = await store.claim('k');
  assert.ok(release);
  assert.is(await store.claim('k'), undefined);
  await release!();
  const again = await store.claim('k');
  assert.ok(again, 'claimable once released');
  const old = new Date(Date.now() - 10 * 60_000);
  utimesSync(`${store.dirFor('k')}.making`, old, old);
  assert.ok(await store.claim('k'), 'a claim left by a killed process is taken over');
  assert.ok((await store.list()).every((e) => !e.dir.endsWith('.making')), 'claims are not templates');

  chmodSync(store.root, 0o755);
  assert.match((await store.prepareRoot())!, /open to other users \(mode 755; want 700\)/);
});

test('hyperbuild cache prune: --dry-run lists the templates with their disk use, then they are removed', async () => {
  const cache = tempDir('tpl-prune');
  const store = new TemplateStore(cache);
  await store.prepareRoot();
  const made = await store.create(templateKey('b', 's'), { bundleDigest: 'sha256:b', shape: 's', parts: {} }, ['ram'], async (dir) => writeFileSync(join(dir, 'ram'), Buffer.alloc(65536, 7)));
  const dry = hyperbuild(['cache', 'prune', '--cache-dir', cache, '--dry-run', '--json']);
  assert.is(dry.status, 0, dry.stderr);
  const listed = JSON.parse(dry.stdout);
  assert.equal(listed.removed.map((r: { dir: string }) => r.dir), [made.dir]);
  assert.ok(listed.freedBytes >= 65536 && listed.dryRun === true);
  assert.ok(statSync(made.dir).isDirectory(), 'a dry run removes nothing');
  const real = hyperbuild(['cache', 'prune', '--cache-dir', cache]);
  assert.is(real.status, 0, real.stderr);
  assert.match(real.stdout, /^removed .+ \(0\.\d MiB\)\n1 VM template, 0\.\d MiB freed\n$/);
  assert.equal(await store.list(), []);
});

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;

(haveQemu ? test : test.skip)('QMP client against a real QEMU: greeting, commands by id, errors with their class, events, a closed monitor', async () => {
  const dir = tempDir('qmp');
  const listener = await QmpListener.listen(join(dir, 'qmp.sock'));
  const qemu = spawn('qemu-system-x86_64', ['-M', 'none', '-nodefaults', '-display', 'none', '-chardev', `socket,id=m,path=${join(dir, 'qmp.sock')}`, '-mon', 'chardev=m,mode=control'], { stdio: 'ignore' });
  const exited = new Promise((res) => qemu.once('exit', res));
  try {
    const qmp = await listener.client(exited);
    const version = await qmp.execute<{ qemu: { major: number } }>('query-version');
    assert.ok(version.qemu.major >= 7);
    const [a, b] = await Promise.all([qmp.execute<{ status: string }>('query-status'), qmp.execute<unknown[]>('query-commands')]);
    assert.ok(typeof a.status === 'string' && Array.isArray(b), 'concurrent commands get their own answers');
    const err = await qmp.execute('no-such-command').then(() => undefined, (e: QmpError) => e);
    assert.instance(err, QmpError);
    assert.is(err!.qmpClass, 'CommandNotFound');
    assert.match(err!.message, /^QMP: no-such-command: CommandNotFound: /);
    await qmp.waitEvent('NEVER', undefined, 50).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /no NEVER event within 50 ms/));
    const shutdown = qmp.waitEvent('SHUTDOWN');
    await qmp.execute('quit');
    assert.is((await shutdown).event, 'SHUTDOWN');
    await exited;
    await qmp.execute('query-status').then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /closed the connection/));
  } finally {
    qemu.kill('SIGKILL');
    listener.close();
  }
  // A QEMU that dies before it connects fails the wait at once.
  const late = await QmpListener.listen(join(dir, 'late.sock'));
  const gone = spawn('qemu-system-x86_64', ['-M', 'no-such-machine'], { stdio: 'ignore' });
  const goneExit = new Promise((res) => gone.once('exit', res));
  await late.client(goneExit, 30_000).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /exited before it connected/));
  late.close();
});

test.run();
