/**
 * HyperStart end to end: boots the real static binary as PID 1 in QEMU (TCG)
 * with a hand-made busybox initramfs, and plays the host side of
 * initramfs/hyperstart/PROTOCOL.md over virtio-serial ports.
 *
 * Needs: `make hyperstart`, qemu-system-x86_64, /bin/busybox (busybox-static),
 * GNU cpio and a kernel: $HYPERSTART_TEST_KERNEL, else the kernel builds use
 * (toolchain/kernel/resolve-kernel.ts; a modular one has its virtio modules put in the initramfs as `module`
 * records). The suite fails when something is missing. Frames, payloads, port
 * names and spec records come from toolchain/hyperstart/protocol.ts, the host
 * side `hyperbuild boot` uses, so the guest is checked against that very codec.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  decodeExitPayload, encodeFrame, encodeSignalPayload, encodeSpec, encodeWindowSizePayload, FrameDecoder, HELLO_PAYLOAD, PORT_NAMES,
  type HostFrameType, type HyperStartSpec,
} from '../toolchain/hyperstart/protocol.ts';
import { guestFreshness } from '../toolchain/boot/guest-freshness.ts';
import { resolveKernel } from '../toolchain/kernel/resolve-kernel.ts';
import { defaultCacheDir } from '../toolchain/cache/cache-dir.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const HS_BIN = path.join(ROOT, 'initramfs/hyperstart/out/hyperstart');
interface Kernel { path: string; modules: string[] }

/** The kernel builds use (HyperKernel, else the Debian cloud kernel with its modules); HYPERSTART_TEST_KERNEL overrides. */
async function pickKernel(): Promise<Kernel> {
  if (process.env.HYPERSTART_TEST_KERNEL) return { path: process.env.HYPERSTART_TEST_KERNEL, modules: [] };
  const resolved = await resolveKernel({ cacheDir: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? defaultCacheDir() });
  return { path: resolved.bootPath, modules: resolved.modules.map((m) => m.hostPath) };
}

const kernel = await pickKernel();
if (kernel) console.log(`hyperstart VM tests: kernel ${kernel.path}${kernel.modules.length ? ` + ${kernel.modules.length} modules` : ''}`);
const haveTools = [HS_BIN, '/bin/busybox'].every((f) => fs.existsSync(f))
  && spawnSync('qemu-system-x86_64', ['--version']).status === 0
  && spawnSync('cpio', ['--version']).status === 0;
const enabled = !!kernel && haveTools;
if (!enabled) throw new Error('hyperstart VM tests need `make hyperstart`, qemu, busybox-static, cpio and a kernel (make deps)');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hyperstart-test-'));

/** A busybox root filesystem tree with two users. */
function makeRootTree(dir: string) {
  const mk = (p: string) => fs.mkdirSync(path.join(dir, p), { recursive: true });
  ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'home/app'].forEach(mk);
  fs.copyFileSync('/bin/busybox', path.join(dir, 'bin/busybox'));
  fs.chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  const list = spawnSync('/bin/busybox', ['--list-full'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  for (const l of list) {
    if (l === 'bin/busybox') continue;
    const target = path.join(dir, l);
    if (!fs.existsSync(target)) fs.symlinkSync('/bin/busybox', target);
  }
  fs.writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n');
  fs.writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\ntty:x:5:\napp:x:1000:\nextra:x:2000:nobody,app\n');
  fs.writeFileSync(path.join(dir, 'etc/not-executable'), '#!/bin/sh\necho nope\n', { mode: 0o644 });
}

/** An initramfs with HyperStart as /.hyperstart/init and `spec` as the image
 * spec; with a busybox root unless the root comes from a disk. */
function makeInitrd(name: string, spec: HyperStartSpec, opts: { withRoot?: boolean } = {}): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(path.join(dir, '.hyperstart/modules'), { recursive: true });
  if (opts.withRoot !== false) makeRootTree(dir);
  fs.copyFileSync(HS_BIN, path.join(dir, '.hyperstart/init'));
  fs.chmodSync(path.join(dir, '.hyperstart/init'), 0o755);
  const modules: string[] = [];
  for (const m of kernel!.modules) {
    const dst = `/.hyperstart/modules/${path.basename(m)}`;
    fs.copyFileSync(m, path.join(dir, dst));
    modules.push(dst);
  }
  fs.writeFileSync(path.join(dir, '.hyperstart/spec'), encodeSpec({ ...spec, modules }));
  const out = path.join(tmp, `${name}.cpio`);
  const r = spawnSync('sh', ['-c', `cd '${dir}' && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 > '${out}'`]);
  if (r.status !== 0) throw new Error(`cpio failed: ${r.stderr}`);
  return out;
}

const live = new Set<ChildProcess>();
process.on('exit', () => { for (const q of live) q.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => { for (const q of live) q.kill('SIGKILL'); process.exit(130); });
}

function qemu(initrd: string, extra: string[]): ChildProcess {
  const q = spawn('qemu-system-x86_64', [
    '-M', 'q35', '-accel', 'tcg', '-m', '256', '-nodefaults', '-no-user-config', '-nographic',
    '-serial', 'stdio', '-kernel', kernel!.path, '-initrd', initrd,
    '-append', 'console=ttyS0 rdinit=/.hyperstart/init panic=-1 quiet hyperstart.debug=1',
    '-no-reboot', ...extra,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(q);
  q.on('exit', () => live.delete(q));
  return q;
}

type Send = (t: HostFrameType, p?: Buffer) => void;

interface Result {
  code: number; // X code, or from the console line in console mode
  stdout: string;
  stderr: string;
  counts?: [number, number];
  frames: string[]; // guest→host frame types in order
  hello?: string; // the H payload
  fail?: string;
  console: string;
}

interface Host {
  /** Called for each guest frame; `send` writes a host frame. */
  onFrame?: (type: string, payload: Buffer, send: Send) => void;
  /** Feed stdin from onFrame instead of sending `E` right after `R` (the default, as `hyperbuild boot` without -i). */
  interactive?: boolean;
  /** Called with all stdout received so far, on each chunk. */
  onStdout?: (soFar: string, send: Send) => void;
  qemuArgs?: string[];
}

/** Boot with the three hyperbuild ports and answer H with `runtime` (made at H when a function, as hyperbuild does). */
async function bootCtl(initrd: string, runtime: Buffer | (() => Buffer), host: Host = {}, timeoutMs = 90_000): Promise<Result> {
  const dir = fs.mkdtempSync(path.join(tmp, 'vm-'));
  const ports = { ctl: PORT_NAMES.ctl, stdout: PORT_NAMES.out, stderr: PORT_NAMES.err };
  const names = Object.keys(ports) as (keyof typeof ports)[];
  const out: Record<string, Buffer[]> = { stdout: [], stderr: [] };
  const res: Result = { code: -1, stdout: '', stderr: '', frames: [], console: '' };
  const servers: net.Server[] = [];
  let ctlSock: net.Socket | undefined;
  let xInfo: { code: number; nout: number; nerr: number } | undefined;
  const received = () => [Buffer.concat(out.stdout).length, Buffer.concat(out.stderr).length];
  const maybeB = () => {
    if (!xInfo || !ctlSock) return;
    const [o, e] = received();
    if (o >= xInfo.nout && e >= xInfo.nerr) { ctlSock.write(encodeFrame('B')); xInfo = undefined; }
  };
  for (const n of names) {
    const srv = net.createServer((sock) => {
      if (n === 'ctl') {
        ctlSock = sock;
        const decoder = new FrameDecoder();
        const send: Send = (t, p) => sock.write(encodeFrame(t, p));
        sock.on('data', (d) => {
          for (const { type, payload } of decoder.push(d)) {
            res.frames.push(type);
            if (type === 'H') { res.hello = payload.toString(); send('S', typeof runtime === 'function' ? runtime() : runtime); }
            if (type === 'X') {
              const x = decodeExitPayload(payload);
              res.code = x.code;
              res.counts = [x.stdoutBytes, x.stderrBytes];
              xInfo = { code: x.code, nout: x.stdoutBytes, nerr: x.stderrBytes };
            }
            if (type === 'F') res.fail = payload.toString();
            if (type === 'R' && !host.interactive) send('E');
            host.onFrame?.(type, payload, send);
            maybeB();
          }
        });
      } else {
        sock.on('data', (d) => {
          out[n].push(d);
          if (n === 'stdout' && ctlSock) host.onStdout?.(Buffer.concat(out.stdout).toString(), (t, p) => ctlSock!.write(encodeFrame(t, p)));
          maybeB();
        });
      }
      sock.on('error', () => {});
    });
    await new Promise<void>((r) => srv.listen(path.join(dir, `${n}.sock`), r));
    servers.push(srv);
  }
  const q = qemu(initrd, [
    '-device', 'virtio-serial-pci',
    ...names.flatMap((n) => [
      '-chardev', `socket,id=${n},path=${path.join(dir, `${n}.sock`)}`,
      '-device', `virtserialport,chardev=${n},name=${ports[n]}`,
    ]),
    ...(host.qemuArgs ?? []),
  ]);
  const con: Buffer[] = [];
  q.stdout!.on('data', (d) => con.push(d));
  q.stderr!.on('data', (d) => con.push(d));
  try {
    await exitOrTimeout(q, con, timeoutMs);
  } finally {
    q.kill('SIGKILL');
    for (const s of servers) s.close();
    ctlSock?.destroy();
  }
  res.stdout = Buffer.concat(out.stdout).toString();
  res.stderr = Buffer.concat(out.stderr).toString();
  res.console = Buffer.concat(con).toString();
  return res;
}

/** Resolves when QEMU exits; rejects with the console so far after `timeoutMs`. */
function exitOrTimeout(q: ChildProcess, con: Buffer[], timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`VM timed out; console:\n${Buffer.concat(con)}`)), timeoutMs);
    q.on('exit', () => { clearTimeout(t); resolve(); });
  });
}

/** Boot without any virtio-serial device: HyperStart falls back to the spec file and console. */
async function bootConsole(initrd: string, timeoutMs = 90_000): Promise<Result> {
  const q = qemu(initrd, []);
  const con: Buffer[] = [];
  q.stdout!.on('data', (d) => con.push(d));
  try {
    await exitOrTimeout(q, con, timeoutMs);
  } finally {
    q.kill('SIGKILL');
  }
  const text = Buffer.concat(con).toString();
  const m = /hyperstart: exit (\d+)/.exec(text);
  return { code: m ? Number(m[1]) : -1, stdout: text, stderr: '', frames: [], console: text };
}

const rt = (spec: HyperStartSpec): Buffer => encodeSpec(spec);

const sh = (script: string): HyperStartSpec => ({ args: ['/bin/sh', '-c', script], env: ['PATH=/bin:/usr/bin:/sbin:/usr/sbin'] });

let ctlInitrd = '';
/** HYPERSTART_TEST_ONLY=regex runs only the matching tests (each boot takes seconds under TCG). */
const only = process.env.HYPERSTART_TEST_ONLY ? new RegExp(process.env.HYPERSTART_TEST_ONLY) : undefined;
const t = (name: string, fn: () => Promise<void>) => (enabled && (!only || only.test(name)) ? test : test.skip)(name, fn);

test.before(() => {
  if (!enabled) return;
  // The image spec of the ctl initramfs is never used for the app: S replaces it.
  ctlInitrd = makeInitrd('ctl', {
    args: ['/bin/false'], env: [],
    // newc cannot carry xattrs: HyperStart applies them at boot (tmpfs rootfs).
    xattrs: [{ path: '/etc/passwd', name: 'trusted.hyperbuild', value: Buffer.from('yes') }],
  });
});
test.after(() => {
  for (const q of live) q.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

t('console mode: spec file app, output and "hyperstart: exit CODE" on the console; the file\'s time and entropy are ignored', async () => {
  const initrd = makeInitrd('console', {
    args: ['sh', '-c', 'echo console-out; echo console-err >&2; echo "year=$(date -u +%Y)"; exit 42'], env: ['PATH=/bin'], hostname: 'box',
    // 2040-01-01: a bundle's spec file is the same bytes in every VM, so HyperStart takes neither record from it.
    realtimeNs: 2_208_988_800n * 1_000_000_000n, entropy: Buffer.alloc(64, 7),
  });
  const r = await bootConsole(initrd);
  assert.is(r.code, 42, r.console);
  assert.match(r.console, 'console-out');
  assert.match(r.console, 'console-err');
  // Without a host the clock is QEMU's RTC, which starts at the host's time.
  assert.match(r.console, `year=${new Date().getUTCFullYear()}`);
  assert.not.match(r.console, 'hyperstart: entropy:');
});

t('ctl mode: H S R X B, stdout/stderr separated and counted, env/workdir/user', async () => {
  const r = await bootCtl(ctlInitrd, rt({
    ...sh('echo out1; echo err1 >&2; id -u; id -g; id -G; pwd; echo "FOO=$FOO HOME=$HOME PATH=$PATH"; hostname; cat /proc/self/status | grep -c NoSuchLine; echo out-end'),
    env: ['FOO=bar baz'],
    workdir: '/srv/new/dir',
    user: 'app',
    hostname: 'testbox',
  }));
  assert.is(r.fail, undefined, r.console);
  assert.equal(r.frames, ['H', 'R', 'X'], r.console);
  assert.is(r.hello, HELLO_PAYLOAD, 'the guest speaks the protocol version of protocol.ts');
  assert.is(r.code, 0, r.console);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines, [
    'out1', '1000', '1000', '1000 2000', '/srv/new/dir',
    `FOO=bar baz HOME=/home/app PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    'testbox', '0', 'out-end',
  ], r.stdout);
  assert.is(r.stderr, 'err1\n');
  assert.equal(r.counts, [Buffer.byteLength(r.stdout), Buffer.byteLength(r.stderr)]);
});

t('ctl mode: user uid:group — unknown uid allowed, group by name, no supplementary groups, HOME=/', async () => {
  const r = await bootCtl(ctlInitrd, rt({ ...sh('id -u; id -g; id -G; echo "$HOME"'), user: '4242:extra' }));
  assert.is(r.fail, undefined, r.console);
  assert.is(r.stdout, '4242\n2000\n2000\n/\n', r.stderr);
});

t('ctl mode: exit 42 and a large output fully delivered before B', async () => {
  const r = await bootCtl(ctlInitrd, rt(sh('i=0; while [ $i -lt 2000 ]; do echo "line $i 0123456789abcdefghijklmnopqrstuvwxyz"; i=$((i+1)); done; exit 42')));
  assert.is(r.code, 42, r.console);
  const lines = r.stdout.split('\n');
  assert.is(lines.length, 2001);
  assert.is(lines[1999], 'line 1999 0123456789abcdefghijklmnopqrstuvwxyz');
  assert.equal(r.counts, [Buffer.byteLength(r.stdout), 0]);
});

t('ctl mode: command not found → 127 with a message on the app stderr', async () => {
  const r = await bootCtl(ctlInitrd, rt({ args: ['no-such-cmd', 'x'], env: ['PATH=/bin:/usr/bin'] }));
  assert.is(r.code, 127, r.console);
  assert.is(r.stderr, 'hyperstart: no-such-cmd: not found\n');
  assert.not.ok(r.frames.includes('R'));
});

t('ctl mode: not executable → 126', async () => {
  const r = await bootCtl(ctlInitrd, rt({ args: ['/etc/not-executable'], env: [] }));
  assert.is(r.code, 126, r.console);
  assert.match(r.stderr, /hyperstart: \/etc\/not-executable: Permission denied/);
});

t('ctl mode: K 9 kills the app → 137; background processes do not keep the VM alive', async () => {
  let sent = false;
  const r = await bootCtl(ctlInitrd, rt(sh('sleep 1000 & echo started; sleep 1000')), {
    onStdout: (so, send) => { if (!sent && so.includes('started')) { sent = true; setTimeout(() => send('K', encodeSignalPayload(9)), 300); } },
  });
  assert.is(r.code, 137, r.console);
  assert.is(r.stdout, 'started\n');
});

t('ctl mode: K 15 is forwarded to the process group (trap runs)', async () => {
  let sent = false;
  const r = await bootCtl(ctlInitrd, rt(sh('trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.2; done')), {
    onStdout: (so, send) => { if (!sent && so.includes('ready')) { sent = true; send('K', encodeSignalPayload(15)); } },
  });
  assert.is(r.code, 3, r.console);
  assert.is(r.stdout, 'ready\ngot TERM\n');
});

t('ctl mode: stdin via I/E; a host without input sends E after R and the app reads EOF', async () => {
  // 3 MiB: more than HyperStart queues (1 MiB) before it stops reading ctl.
  const big = Buffer.alloc(3 << 20, 'x');
  const r = await bootCtl(ctlInitrd, rt(sh('read a; echo "first=$a"; wc -c | tr -d " "; echo "[done]"')), {
    interactive: true,
    onFrame: (type, _p, send) => {
      if (type !== 'R') return;
      send('I', Buffer.from('hello '));
      send('I', Buffer.from('stdin\n'));
      for (let i = 0; i < big.length; i += 65536) send('I', big.subarray(i, i + 65536));
      send('E');
    },
  });
  assert.is(r.code, 0, r.console);
  assert.is(r.stdout, `first=hello stdin\n${big.length}\n[done]\n`);
  const r2 = await bootCtl(ctlInitrd, rt(sh('cat; echo "[eof]"')));
  assert.is(r2.stdout, '[eof]\n', r2.console);
});

t('ctl mode: tty — pty is the controlling terminal, W sets its size, no stderr', async () => {
  const spec = { ...sh('tty; sleep 1; stty size; read l; echo "got $l"; echo err >&2; exit 7'), tty: true };
  const r = await bootCtl(ctlInitrd, rt(spec), {
    interactive: true,
    onFrame: (type, _p, send) => {
      if (type === 'H') send('W', encodeWindowSizePayload(33, 101));
      if (type === 'R') setTimeout(() => send('I', Buffer.from('abc\r')), 1500);
    },
  });
  assert.is(r.code, 7, r.console);
  // Output post-processed by the terminal (\r\n); `abc` is the terminal's own
  // echo, whose place depends on when I arrives, so only the app's lines are ordered.
  const lines = r.stdout.split('\r\n').filter((l) => l !== 'abc');
  assert.equal(lines, ['/dev/pts/0', '33 101', 'got abc', 'err', ''], JSON.stringify(r.stdout));
  assert.match(r.stdout, 'abc\r\n');
  assert.is(r.stderr, '');
});

t('ctl mode: HyperStart failure → F (unknown user)', async () => {
  const r = await bootCtl(ctlInitrd, rt({ ...sh('true'), user: 'nobody-here' }));
  assert.match(r.fail ?? '', 'unable to find user nobody-here');
  assert.not.ok(r.frames.includes('X'));
});

t('ctl mode: net — eth0 address, default route, resolv.conf, lo', async () => {
  const r = await bootCtl(ctlInitrd, rt({
    ...sh('ip -4 addr show dev eth0 | grep -o "inet [0-9./]*"; ip route | grep default; cat /etc/resolv.conf; ip -4 addr show dev lo | grep -o "inet [0-9./]*"'),
    network: { mode: 'static', address: '10.0.2.15/24', gateway: '10.0.2.2', dns: ['10.0.2.3', '1.1.1.1'] },
  }), { qemuArgs: ['-netdev', 'user,id=n0', '-device', 'virtio-net-pci,netdev=n0'] });
  assert.is(r.fail, undefined, r.console);
  assert.is(r.code, 0, r.console + r.stderr);
  assert.is(r.stdout, 'inet 10.0.2.15/24\ndefault via 10.0.2.2 dev eth0 \nnameserver 10.0.2.3\nnameserver 1.1.1.1\ninet 127.0.0.1/8\n', r.stderr);
});

/** The app's view of its clock and RNG: seconds, the pool's credited bits, 32 bytes of /dev/urandom. */
const FRESH_PROBE = 'date -u +%s; cat /proc/sys/kernel/random/entropy_avail; head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo';

/** Boot with `runtime`, noting the host's wall clock when S goes out and when the app's output is in. */
async function bootTimed(runtime: Buffer | (() => Buffer), qemuArgs: string[]) {
  let sentAt = 0;
  let outAt = 0;
  const r = await bootCtl(ctlInitrd, runtime, {
    qemuArgs,
    onFrame: (type) => { if (type === 'H') sentAt = Date.now(); }, // called right after S was written
    onStdout: (so) => { if (!outAt && so.split('\n').length > 3) outAt = Date.now(); },
  });
  const [seconds, bits, bytes] = r.stdout.trim().split('\n');
  return { r, seconds: Number(seconds), bits: Number(bits), bytes, sentAt, outAt };
}

// The RTC says 2001: a clock that is right afterwards was set by HyperStart, not read from the RTC.
const OLD_RTC = ['-rtc', 'base=2001-01-01T00:00:00'];

t('ctl mode: the clock is the time S carries, not the RTC', async () => {
  // A time no RTC here shows: 2040-01-01T00:00:00Z.
  const T = 2_208_988_800;
  const { r, seconds, sentAt, outAt } = await bootTimed(rt({ ...sh(FRESH_PROBE), realtimeNs: BigInt(T) * 1_000_000_000n, entropy: Buffer.alloc(64, 1) }), OLD_RTC);
  assert.is(r.code, 0, r.console + r.stderr);
  assert.match(r.console, `hyperstart: time: clock set to the host's, ${T}.000000000`);
  // Set at S, read by the app before its output reached us: at most that much later.
  assert.ok(seconds >= T && seconds <= T + Math.ceil((outAt - sentAt) / 1000), `guest ${seconds}, sent ${T}, ${outAt - sentAt} ms from S to output`);
});

t('ctl mode: hyperbuild\'s clock and entropy: host time, CRNG seeded and ready before the app, two boots differ', async () => {
  const boots = [];
  // Clock and entropy taken when S goes out, as GuestLink does.
  for (let i = 0; i < 2; i++) boots.push(await bootTimed(() => rt({ ...sh(FRESH_PROBE), ...guestFreshness() }), OLD_RTC));
  for (const { r, seconds, bits, bytes, sentAt, outAt } of boots) {
    assert.is(r.code, 0, r.console + r.stderr);
    assert.ok(seconds >= Math.floor(sentAt / 1000) - 1 && seconds <= Math.ceil(outAt / 1000), `guest ${seconds}, host ${sentAt / 1000}..${outAt / 1000}`);
    // Both ioctls succeeded (a failure is an F frame), and the pool is full: the CRNG is initialised.
    assert.match(r.console, 'hyperstart: entropy: 64 bytes from the host credited, crng reseeded');
    assert.is(bits, 256, 'entropy_avail: the input pool credited in full');
    assert.match(bytes, /^[0-9a-f]{64}$/);
  }
  assert.is.not(boots[0].bytes, boots[1].bytes);
});

t('ctl mode: a malformed time or short entropy record in S → F, and the app never starts', async () => {
  const bad = (key: string, value: Buffer) => Buffer.concat([rt(sh('echo never')), Buffer.from(`${key} ${value.length}\n`), value, Buffer.from('\n')]);
  for (const [spec, message] of [[bad('time', Buffer.from('soon')), 'malformed time record'], [bad('entropy', Buffer.alloc(16)), 'entropy record must hold 32 to 512 bytes']] as const) {
    const r = await bootCtl(ctlInitrd, spec);
    assert.match(r.fail ?? '', `runtime spec: spec: ${message}`, r.console);
    assert.not.ok(r.frames.includes('R'));
    assert.is(r.stdout, '');
  }
});

t('rootdisk: read-only ext4 root with a tmpfs overlay, switched to as /', async () => {
  const mkfs = spawnSync('sh', ['-c', 'command -v mkfs.ext4 || ls /sbin/mkfs.ext4 /usr/sbin/mkfs.ext4'], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  assert.ok(mkfs, 'rootdisk test needs mkfs.ext4 (make deps installs e2fsprogs)');
  const tree = path.join(tmp, 'disktree');
  makeRootTree(tree);
  fs.writeFileSync(path.join(tree, 'etc/on-disk'), 'from the disk\n');
  const img = path.join(tmp, 'root.img');
  const r0 = spawnSync(mkfs, ['-q', '-F', '-d', tree, '-E', 'root_owner=0:0', img, '16M'], { encoding: 'utf8' });
  assert.is(r0.status, 0, r0.stderr);
  const initrd = makeInitrd('disk', { args: ['/bin/false'], env: [], rootDisk: { device: '/dev/vda', fsType: 'ext4' } }, { withRoot: false });
  const r = await bootCtl(initrd, rt(sh('cat /etc/on-disk; echo new > /written && cat /written; ls /.hyperstart 2>&1 | head -1; grep " / " /proc/mounts | cut -d" " -f3; id -un')), {
    qemuArgs: ['-drive', `file=${img},format=raw,if=virtio,readonly=on`],
  });
  assert.is(r.fail, undefined, r.console);
  assert.is(r.stdout, 'from the disk\nnew\nls: /.hyperstart: No such file or directory\noverlay\nroot\n', r.console + r.stderr);
});

test.run();
