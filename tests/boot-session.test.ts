import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { encodeExitPayload, HELLO_PAYLOAD, HYPERSTART_VERSION } from '../toolchain/hyperstart/protocol.ts';
import { runBoot, type BootOptions, EXIT_TIMEOUT, EXIT_STOP_KILLED } from '../toolchain/boot/session.ts';
import { decodeSpecRecords } from '../toolchain/hyperstart/spec.ts';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { FakeHypervisor, writeFakeBundle, type FakeHypervisorOptions, type GuestScript } from './helpers/boot-fake-guest.ts';

const tmp = mkdtempSync(join(tmpdir(), 'hb-boot-session-'));
const bundle = join(tmp, 'bundle');
await writeFakeBundle(bundle, { cmd: ['echo', 'hi'], env: ['PATH=/bin', 'FROM=image'] });

function sink() {
  const s = new PassThrough();
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return { stream: s, text: () => Buffer.concat(chunks).toString() };
}

async function boot(script: GuestScript, over: Partial<BootOptions> = {}, hvOptions: FakeHypervisorOptions = {}) {
  const out = sink();
  const err = sink();
  const hv = new FakeHypervisor(script, hvOptions);
  const result = await runBoot({
    bundleDir: bundle, hypervisor: hv, accel: 'tcg', cpus: 1, publish: [],
    overrides: { args: [], envFiles: [], env: [], tty: false, network: 'user', volumes: [] },
    interactive: false, verbose: false, stopTimeoutMs: 10_000,
    stdout: out.stream, stderr: err.stream,
    ...over,
  });
  return { result, out: out.text(), err: err.text(), hv };
}

const X = (code: number, stdoutBytes: number, stderrBytes: number) => encodeExitPayload({ code, stdoutBytes, stderrBytes });

/** The usual start: H, receive S, R, receive E (stdin closed). Returns the spec records. */
async function handshake(g: Parameters<GuestScript>[0]) {
  g.send('H', Buffer.from(HELLO_PAYLOAD));
  const s = await g.next();
  assert.is(s.type, 'S');
  g.send('R');
  const e = await g.next();
  assert.is(e.type, 'E');
  return decodeSpecRecords(s.payload);
}

test('happy path: spec sent, output separated, late output drained before B, app exit code returned', async () => {
  let records: { key: string; value: Buffer }[] = [];
  let gotB = false;
  const { result, out, err } = await boot(async (g) => {
    records = await handshake(g);
    g.stdout.write('part one, ');
    g.stderr.write('to stderr\n');
    g.console.write('[    0.1] kernel noise\n');
    // X announces more stdout than has been sent: the host must wait for it.
    g.send('X', X(42, 'part one, part two\n'.length, 'to stderr\n'.length));
    setTimeout(() => g.stdout.write('part two\n'), 150);
    const b = await g.next();
    gotB = b.type === 'B';
  }, { overrides: { args: ['sh', '-c', 'x'], envFiles: [], env: ['NEW=1'], tty: false, network: 'none', volumes: [], workdir: '/w' }, accel: 'auto' });
  assert.ok(gotB);
  assert.is(result.exitCode, 42);
  assert.is(result.outcome, 'exited');
  assert.is(out, 'part one, part two\n');
  assert.is(err, 'hyperbuild: notice: /dev/kvm is missing or not read-write for this user; using TCG emulation (slower)\nto stderr\n');
  assert.not.match(out + err, /kernel noise/);
  assert.is(result.stdoutBytes, 19);
  const get = (k: string) => records.filter((r) => r.key === k).map((r) => r.value.toString());
  assert.equal(get('arg'), ['sh', '-c', 'x']);
  assert.equal(get('env'), ['PATH=/bin', 'FROM=image', 'NEW=1']);
  assert.equal(get('workdir'), ['/w']);
  assert.equal(get('net'), ['none']);
  assert.ok(typeof result.bootMs === 'number' && typeof result.startMs === 'number');
});

test('default network is user-mode: eth0 10.0.2.15/24 via 10.0.2.2, dns 10.0.2.3', async () => {
  let records: { key: string; value: Buffer }[] = [];
  await boot(async (g) => {
    records = await handshake(g);
    g.send('X', X(0, 0, 0));
    await g.next();
  });
  const get = (k: string) => records.filter((r) => r.key === k).map((r) => r.value.toString());
  assert.equal(get('net'), ['eth0 10.0.2.15/24 10.0.2.2']);
  assert.equal(get('dns'), ['10.0.2.3']);
});

test('a HyperStart speaking another protocol version is refused → 125', async () => {
  const { result } = await boot(async (g) => {
    g.send('H', Buffer.from('hyperstart 99'));
    await g.killed;
  });
  assert.is(result.exitCode, 125);
  assert.match(result.message!, `speaks protocol 99, this hyperbuild speaks ${HYPERSTART_VERSION}`);
});

test('F: HyperStart failure → 125 with its message', async () => {
  const { result } = await boot(async (g) => {
    g.send('H', Buffer.from(HELLO_PAYLOAD));
    await g.next();
    g.send('F', Buffer.from('user "bob" not found in /etc/passwd'));
  });
  assert.is(result.exitCode, 125);
  assert.is(result.outcome, 'hyperstart-failed');
  assert.is(result.message, 'HyperStart failed: user "bob" not found in /etc/passwd');
});

test('the VM dies without X (panic) → 125 with the last console lines', async () => {
  const { result } = await boot(async (g) => {
    for (let i = 0; i < 80; i++) g.console.write(`line ${i}\r\n`);
    g.console.write('Kernel panic - not syncing: Attempted to kill init!');
    await new Promise((r) => setTimeout(r, 50));
  });
  assert.is(result.exitCode, 125);
  assert.is(result.outcome, 'vm-died');
  assert.is(result.console!.length, 50);
  assert.is(result.console!.at(-1), 'Kernel panic - not syncing: Attempted to kill init!');
  assert.is(result.console![0], 'line 31');
});

test('--timeout: a hung guest is killed → 124', async () => {
  const t = Date.now();
  const { result } = await boot(async (g) => { await g.killed; }, { timeoutMs: 300 });
  assert.is(result.exitCode, EXIT_TIMEOUT);
  assert.is(result.outcome, 'timeout');
  assert.ok(Date.now() - t < 3000);
});

test('SIGINT is forwarded to the app as K 2; the app decides the exit code', async () => {
  let signal = -1;
  const { result } = await boot(async (g) => {
    await handshake(g);
    setTimeout(() => process.emit('SIGINT', 'SIGINT'), 20);
    const k = await g.next();
    assert.is(k.type, 'K');
    signal = k.payload.readUInt32BE(0);
    g.send('X', X(130, 0, 0));
    await g.next();
  });
  assert.is(signal, 2);
  assert.is(result.exitCode, 130);
  assert.is(process.listenerCount('SIGINT'), 0, 'handlers removed after the run');
});

test('an app that ignores SIGTERM is killed after --stop-timeout → 137', async () => {
  const { result, err } = await boot(async (g) => {
    await handshake(g);
    setTimeout(() => process.emit('SIGTERM', 'SIGTERM'), 20);
    assert.is((await g.next()).type, 'K');
    await g.killed;
  }, { stopTimeoutMs: 200 });
  assert.is(result.exitCode, EXIT_STOP_KILLED);
  assert.match(err, /did not stop within 200 ms/);
});

test('-i: stdin is forwarded as I frames, EOF as E', async () => {
  const stdin = new PassThrough();
  let got = '';
  await boot(async (g) => {
    g.send('H', Buffer.from(HELLO_PAYLOAD));
    await g.next();
    g.send('R');
    stdin.write('hello ');
    stdin.end('world');
    for (;;) {
      const f = await g.next();
      if (f.type === 'E') break;
      assert.is(f.type, 'I');
      got += f.payload.toString();
    }
    g.send('X', X(0, 0, 0));
    await g.next();
  }, { interactive: true, stdin: stdin as unknown as NodeJS.ReadStream });
  assert.is(got, 'hello world');
});

test('a tampered bundle is refused before anything boots', async () => {
  const dir = join(tmp, 'tampered');
  await writeFakeBundle(dir);
  writeFileSync(join(dir, 'initramfs.cpio.gz'), 'not an initramfs!');
  let started = false;
  try {
    await boot(async () => { started = true; }, { bundleDir: dir });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.match((err as Error).message, /initramfs initramfs.cpio.gz has 17 bytes, bundle.json says 16/);
  }
  writeFileSync(join(dir, 'initramfs.cpio.gz'), 'not an initramfS');
  try {
    await boot(async () => { started = true; }, { bundleDir: dir });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /does not match bundle.json \(sha256 differs\)/);
  }
  assert.not.ok(started);
  try {
    await boot(async () => {}, { bundleDir: join(tmp, 'nope') });
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /is not a bundle: cannot read bundle.json/);
  }
});

test.run();
