/**
 * The VM supervisor (supervisor/, `make supervisor`) without a VM: it execs
 * tests/helpers/vm-fake-qemu.ts in QEMU's place, which connects to the
 * channel sockets and plays HyperStart. Checks the guest link (exit codes,
 * stop/kill, timeouts, failures), the logs (records, partial lines,
 * rotation), status.json, --rm, the monitor.sock answers and the exec relay.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { encodeFrame, encodeSignalPayload, encodeSpec, EXEC_STREAM, FrameDecoder, HYPERSTART_VERSION, type Frame } from '../toolchain/hyperstart/protocol.ts';
import { createVm, type NewVm } from '../toolchain/vm/create.ts';
import { readAllLines } from '../toolchain/vm/logs.ts';
import { askMonitor, exitLine } from '../toolchain/vm/monitor-client.ts';
import { isAlive, waitGone } from '../toolchain/vm/proc.ts';
import { readStatus } from '../toolchain/vm/records.ts';
import { startSupervisor, supervisorBinaryPath, type StartReport } from '../toolchain/vm/supervisor.ts';
import { ensureStateRoot, VM_FILES } from '../toolchain/vm/state-dir.ts';
import { REPO, tempDir } from './helpers/places.ts';

const FAKE = join(REPO, 'tests/helpers/vm-fake-qemu.ts');
const root = ensureStateRoot({ HYPERBUILD_STATE_DIR: tempDir('vm-supervisor') });
const started: NewVm[] = [];

async function supervise(scenario: string[], o: { logMaxBytes?: number; timeoutMs?: number; autoRemove?: boolean } = {}): Promise<{ vm: NewVm; report?: StartReport }> {
  const vm = createVm(root, '/fake/bundle');
  started.push(vm);
  writeFileSync(join(vm.dir, VM_FILES.spec), encodeSpec({ args: ['fake', 'app'], env: [] }));
  const report = await startSupervisor({
    dir: vm.dir, version: HYPERSTART_VERSION, logMaxBytes: o.logMaxBytes ?? 1 << 20, timeoutMs: o.timeoutMs,
    tty: false, autoRemove: o.autoRemove ?? false, nameLink: vm.nameLink,
    launch: { command: process.execPath, args: ['--import', import.meta.resolve('tsx'), FAKE, ...scenario], files: [], handOver: [] },
  });
  return { vm, report };
}

/** The supervisor's answer to `wait`, or (once it is gone) the recorded exit. */
async function exitOf(vm: NewVm): Promise<number | undefined> {
  const code = exitLine((await askMonitor(vm.dir, 'wait', (l) => exitLine(l) !== undefined)) ?? []);
  return code ?? readStatus(vm.dir).exitCode;
}

async function settled(vm: NewVm): Promise<void> {
  const s = readStatus(vm.dir);
  assert.ok(await waitGone([s.supervisor, s.qemu], 10_000), 'supervisor and fake QEMU have exited');
}

test.after(async () => {
  for (const vm of started) {
    if (!existsSync(vm.dir)) continue;
    try {
      const s = readStatus(vm.dir);
      for (const p of [s.qemu, s.supervisor]) if (isAlive(p)) process.kill(p!.pid, 'SIGKILL');
    } catch { /* no status: nothing started */ }
  }
});

test('the supervisor is built', () => {
  assert.ok(existsSync(supervisorBinaryPath()), 'run `make supervisor`');
});

test('an app that exits: its code, both streams in the log in order, status.json, nothing left running', async () => {
  const { vm, report } = await supervise(['exit', '3']);
  assert.equal(report, { state: 'running' });
  assert.is(await exitOf(vm), 3);
  await settled(vm);
  const s = readStatus(vm.dir);
  assert.is(s.state, 'exited');
  assert.is(s.exitCode, 3);
  assert.is(s.outcome, 'exited');
  assert.ok(s.startedAt && s.finishedAt && s.finishedAt >= s.startedAt);
  const lines = readAllLines(vm.dir).map((l) => [l.stream, l.bytes.toString(), l.complete]);
  assert.equal(lines, [['stdout', 'to stdout', true], ['stderr', 'to stderr', true]]);
  assert.match(readFileSync(join(vm.dir, VM_FILES.console), 'utf8'), 'fake console: booting');
  assert.match(readFileSync(join(vm.dir, VM_FILES.supervisorLog), 'utf8'), 'spec args ["fake","app"]');
  assert.not.ok(existsSync(join(vm.dir, VM_FILES.monitor)), 'monitor.sock is gone with the supervisor');
  assert.equal(readdirSync(vm.dir).filter((f) => f.includes('.tmp-')), [], 'no temp file left by the atomic writes');
  assert.is(statSync(join(vm.dir, VM_FILES.status)).mode & 0o777, 0o600);
});

test('a line without its newline is kept as a partial record', async () => {
  const { vm } = await supervise(['partial']);
  assert.is(await exitOf(vm), 0);
  const raw = readFileSync(join(vm.dir, VM_FILES.log), 'utf8');
  assert.match(raw, / stdout P no newline at the end\n$/);
  assert.equal(readAllLines(vm.dir).map((l) => [l.bytes.toString(), l.complete]), [['no newline at the end', false]]);
});

test('logs rotate: each file stays under --log-max, the newest lines are kept', async () => {
  const max = 8192;
  const { vm } = await supervise(['flood', '100000'], { logMaxBytes: max });
  assert.is(await exitOf(vm), 0);
  for (const f of [VM_FILES.log, VM_FILES.logOld]) assert.ok(statSync(join(vm.dir, f)).size <= max, `${f} ≤ ${max} bytes`);
  const lines = readAllLines(vm.dir).map((l) => l.bytes.toString());
  const last = lines[lines.length - 1];
  assert.match(last, /^line \d+$/);
  // The flood's last line (about 100000 bytes in) survived; the first ones were rotated away.
  assert.ok(Number(last.slice(5)) > 9000, last);
  assert.not.ok(lines.includes('line 0'));
  // Kept lines are consecutive: rotation drops whole older records, never bytes in the middle.
  const nums = lines.map((l) => Number(l.slice(5)));
  assert.ok(nums.every((n, i) => i === 0 || n === nums[i - 1] + 1));
});

test('stop: SIGTERM (K 15) to the app; an app that obeys exits 143', async () => {
  const { vm } = await supervise(['obey-term']);
  const lines = await askMonitor(vm.dir, 'stop 10000', (l) => exitLine(l) !== undefined);
  assert.equal(lines, ['ok', 'exit 143']);
  assert.match(readFileSync(join(vm.dir, VM_FILES.supervisorLog), 'utf8'), 'got K 15');
});

test('stop: an app that ignores SIGTERM is powered off after the stop time (137); a second stop is refused meanwhile', async () => {
  const { vm } = await supervise(['ignore-term']);
  const first = askMonitor(vm.dir, 'stop 1500', (l) => exitLine(l) !== undefined);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(await askMonitor(vm.dir, 'stop 1500', (l) => l.length > 0), ['error already-stopping']);
  assert.equal(await first, ['ok', 'exit 137']);
  const s = readStatus(vm.dir);
  assert.is(s.outcome, 'stop-killed');
  assert.match(s.message ?? '', 'did not stop within 1500 ms');
});

test('kill: the signal reaches the app (K N)', async () => {
  const { vm } = await supervise(['obey-term']);
  assert.equal(await askMonitor(vm.dir, 'kill 1', (l) => l.length > 0), ['ok']);
  assert.is(await exitOf(vm), 129);
  assert.equal(await askMonitor(vm.dir, 'kill 99', (l) => l.length > 0), undefined, 'the supervisor is gone after the end');
});

test('monitor.sock refuses what it does not know', async () => {
  const { vm } = await supervise(['ignore-term']);
  assert.equal(await askMonitor(vm.dir, 'kill 0' as 'kill 0', (l) => l.length > 0), ['error bad-signal']);
  assert.equal(await askMonitor(vm.dir, 'bogus' as 'wait', (l) => l.length > 0), ['error unknown-request']);
  assert.equal(await askMonitor(vm.dir, 'stop 0', (l) => exitLine(l) !== undefined), ['ok', 'exit 137']);
});

/** An exec client on monitor.sock: sends `exec` + N, collects frames until x or F. */
function execClient(dir: string, args: string[], then: (sock: Socket, f: Frame) => void): Promise<Frame[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(join(dir, VM_FILES.monitor));
    const decoder = new FrameDecoder();
    const got: Frame[] = [];
    sock.on('error', reject);
    sock.on('close', () => resolve(got));
    sock.on('data', (c: Buffer) => {
      for (const f of decoder.push(c)) {
        got.push(f);
        then(sock, f);
        if (f.type === 'x' || f.type === 'F') { sock.destroy(); resolve(got); }
      }
    });
    sock.write(Buffer.concat([Buffer.from('exec\n'), encodeFrame('N', encodeSpec({ args, env: [] }))]));
  });
}

test('exec: frames relayed both ways, each exec under its own id; a client that hangs up has its process killed', async () => {
  const { vm } = await supervise(['exec']);
  const text = (fs: Frame[], t: string, stream?: number) => fs.filter((f) => f.type === t && (stream === undefined || f.payload[0] === stream)).map((f) => f.payload.subarray(stream === undefined ? 0 : 1).toString()).join('');
  const [a, b] = await Promise.all([
    execClient(vm.dir, ['echo', 'one'], (s, f) => { if (f.type === 'r') s.write(encodeFrame('e')); }),
    execClient(vm.dir, ['sleep', 'x'], (s, f) => { if (f.type === 'r') s.write(encodeFrame('k', encodeSignalPayload(15))); }),
  ]);
  assert.equal(a.map((f) => f.type), ['r', 'o', 'o', 'x']);
  assert.is(text(a, 'o', EXEC_STREAM.stdout), 'ran echo one\n');
  assert.is(a[3].payload.readUInt32BE(0), 9);
  assert.is(b[3].payload.readUInt32BE(0), 143);
  const ids = [text(a, 'o', EXEC_STREAM.stderr), text(b, 'o', EXEC_STREAM.stderr)].sort();
  assert.equal(ids, ['id 1\n', 'id 2\n'], 'two execs, two ids, no id on the client side');
  // Hang up before the end: the supervisor kills that process (k 9 with its id).
  await execClient(vm.dir, ['cat'], (s, f) => { if (f.type === 'r') s.destroy(); }).catch(() => []);
  for (let i = 0; i < 100 && !/got k\n/.test(readFileSync(join(vm.dir, VM_FILES.supervisorLog), 'utf8')); i++) await new Promise((r) => setTimeout(r, 50));
  assert.match(readFileSync(join(vm.dir, VM_FILES.supervisorLog), 'utf8'), /got k\n/);
  await askMonitor(vm.dir, 'stop 0', (l) => exitLine(l) !== undefined);
});

test('QEMU exiting without X: 125, vm-died, said why', async () => {
  const { vm } = await supervise(['crash']);
  assert.is(await exitOf(vm), 125);
  const s = readStatus(vm.dir);
  assert.is(s.outcome, 'vm-died');
  assert.match(s.message ?? '', 'QEMU exited (status 3) before the app exited');
});

test('a guest speaking another protocol version ends before the app runs (125)', async () => {
  const { vm, report } = await supervise(['old-version']);
  assert.is(report?.state, 'exited');
  assert.is(report?.state === 'exited' && report.exitCode, 125);
  assert.match(readStatus(vm.dir).message ?? '', "says 'hyperstart 0'");
});

test('F (HyperStart failed): 125 with its message, the VM killed when it does not power off', async () => {
  const { vm, report } = await supervise(['fail']);
  assert.is(report?.state === 'exited' && report.outcome, 'hyperstart-failed');
  assert.match(readStatus(vm.dir).message ?? '', 'HyperStart failed: mount /proc: no such device');
  await settled(vm);
});

test('--timeout-ms: the VM is killed, exit 124', async () => {
  const { vm } = await supervise(['ignore-term'], { timeoutMs: 500 });
  assert.is(await exitOf(vm), 124);
  assert.is(readStatus(vm.dir).outcome, 'timeout');
});

test('--rm: the state directory and the name go when the VM ends', async () => {
  const { vm } = await supervise(['exit', '0'], { autoRemove: true });
  assert.ok(existsSync(vm.nameLink));
  assert.equal(await askMonitor(vm.dir, 'wait', (l) => exitLine(l) !== undefined), ['exit 0']);
  for (let i = 0; i < 100 && existsSync(vm.dir); i++) await new Promise((r) => setTimeout(r, 50));
  assert.not.ok(existsSync(vm.dir));
  assert.not.ok(existsSync(vm.nameLink));
});

test('the supervisor holds at most 5 MiB of RSS', async () => {
  const { vm } = await supervise(['ignore-term']);
  const pid = readStatus(vm.dir).supervisor!.pid;
  const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  console.log(`supervisor VmRSS ${rssKiB} KiB`);
  assert.ok(rssKiB <= 5 * 1024, `${rssKiB} KiB`);
  await askMonitor(vm.dir, 'stop 0', (l) => exitLine(l) !== undefined);
});

test.run();
