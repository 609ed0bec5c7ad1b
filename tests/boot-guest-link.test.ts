/**
 * The guest link state machine (toolchain/boot/guest-link.ts) without a VM,
 * sockets or timers: events in, actions out, a fake clock. Every exit-code
 * path of `boot` is driven here in milliseconds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EXIT_STOP_KILLED, EXIT_TIMEOUT, FAILURE_GRACE_MS, GuestLink, OUTPUT_DRAIN_MS, POWEROFF_MS,
  type LinkAction, type LinkConfig, type LinkResult,
} from '../toolchain/boot/guest-link.ts';
import { decodeSpecRecords, encodeExitPayload, encodeFrame, FrameDecoder, type Frame } from '../toolchain/hyperstart/protocol.ts';

function makeLink(over: Partial<LinkConfig> = {}) {
  let clock = 10_000;
  const link = new GuestLink({
    spec: { args: ['sh', '-c', 'x'], env: ['A=1'] }, version: '1', tty: false, interactive: false,
    stopTimeoutMs: 10_000, now: () => clock, startedAt: 10_000, windowSize: () => undefined, ...over,
  });
  return { link, advance: (ms: number) => { clock += ms; } };
}

const control = (type: 'H' | 'R' | 'X' | 'F', payload?: Buffer) => ({ type: 'control' as const, chunk: encodeFrame(type, payload) });
const hello = (v = '1') => control('H', Buffer.from(`hyperstart ${v}`));
const exitFrame = (code: number, stdoutBytes = 0, stderrBytes = 0) => control('X', encodeExitPayload({ code, stdoutBytes, stderrBytes }));
const exited = { type: 'vm-exited' as const, exit: { code: 0, signal: null, diagnostics: '' } };

/** The frames among the actions, decoded. */
function frames(actions: LinkAction[]): Frame[] {
  const d = new FrameDecoder();
  return actions.flatMap((a) => (a.type === 'send' ? d.push(a.frame) : []));
}
const types = (actions: LinkAction[]) => frames(actions).map((f) => f.type).join('');
const kinds = (actions: LinkAction[]) => actions.map((a) => (a.type === 'send' ? `send:${frames([a])[0].type}` : a.type === 'set-timer' || a.type === 'clear-timer' ? `${a.type}:${a.name}` : a.type));
function result(actions: LinkAction[]): LinkResult {
  const done = actions.find((a) => a.type === 'done');
  assert.ok(done, `no result in ${kinds(actions).join(', ')}`);
  return (done as { result: LinkResult }).result;
}

test('happy path: H → S (the spec), R → E, X waits for announced output, then B; the app code wins', () => {
  const { link, advance } = makeLink();
  assert.equal(link.start(), []);
  assert.is(link.state, 'awaiting-hello');
  advance(700);
  const onHello = link.handle(hello());
  assert.is(types(onHello), 'S');
  assert.ok(onHello.some((a) => a.type === 'note' && /hyperstart 1 up after 700 ms/.test(a.line)));
  const records = decodeSpecRecords(frames(onHello)[0].payload);
  assert.equal(records.filter((r) => r.key === 'arg').map((r) => r.value.toString()), ['sh', '-c', 'x']);
  assert.is(link.state, 'spec-sent');
  advance(50);
  assert.is(types(link.handle(control('R'))), 'E');
  assert.is(link.state, 'running');

  assert.equal(kinds(link.handle(exitFrame(42, 10, 3))), ['set-timer:drain']);
  assert.is(link.state, 'draining');
  assert.equal(link.handle({ type: 'output', stream: 'stdout', bytes: 10 }), []);
  assert.equal(kinds(link.handle({ type: 'output', stream: 'stderr', bytes: 3 })), ['clear-timer:drain', 'send:B', 'set-timer:poweroff']);
  assert.is(link.state, 'powering-off');
  const end = result(link.handle(exited));
  assert.equal(end, { exitCode: 42, outcome: 'exited', withConsole: false, bootMs: 700, startMs: 750, exitMs: 750 });
  assert.is(link.state, 'done');
  assert.equal(link.handle(hello()), [], 'nothing after done');
});

test('frames split anywhere or batched in one chunk are all understood', () => {
  const { link } = makeLink();
  const bytes = Buffer.concat([encodeFrame('H', Buffer.from('hyperstart 1')), encodeFrame('R')]);
  const actions = [...bytes].flatMap((b) => link.handle({ type: 'control', chunk: Buffer.from([b]) }));
  assert.is(types(actions), 'SE');
  const batched = makeLink().link;
  assert.is(types(batched.handle({ type: 'control', chunk: bytes })), 'SE');
});

test('output already in when X arrives: B at once; the poweroff timer kills a VM that stays up', () => {
  const { link } = makeLink();
  link.handle(hello());
  link.handle(control('R'));
  link.handle({ type: 'output', stream: 'stdout', bytes: 4 });
  assert.equal(kinds(link.handle(exitFrame(0, 4, 0))), ['send:B', 'set-timer:poweroff']);
  assert.equal(kinds(link.handle({ type: 'timer', name: 'poweroff' })), ['kill-vm']);
  assert.is(result(link.handle(exited)).exitCode, 0);
  assert.is(POWEROFF_MS, 10_000);
});

test('announced output that never arrives: after the drain deadline a warning, then B', () => {
  const { link } = makeLink();
  link.handle(hello());
  link.handle(control('R'));
  link.handle(exitFrame(3, 100, 0));
  link.handle({ type: 'output', stream: 'stdout', bytes: 60 });
  const a = link.handle({ type: 'timer', name: 'drain' });
  assert.ok(a.some((x) => x.type === 'say' && x.line === 'hyperbuild: warning: app output may be truncated (stdout 60/100, stderr 0/0 bytes)'));
  assert.is(types(a), 'B');
  assert.is(result(link.handle(exited)).exitCode, 3);
  assert.is(OUTPUT_DRAIN_MS, 5_000);
});

test('a HyperStart of another protocol version: the VM is killed → 125 with the console', () => {
  const { link } = makeLink();
  const a = link.handle(hello('2'));
  assert.equal(kinds(a), ['kill-vm']);
  assert.is(link.state, 'stopping');
  const r = result(link.handle(exited));
  assert.is(r.exitCode, 125);
  assert.is(r.outcome, 'hyperstart-failed');
  assert.is(r.withConsole, true);
  assert.match(r.message!, /speaks protocol 2, this hyperbuild speaks 1/);
});

test('a corrupt control stream or a malformed X → 125 with the console', () => {
  const { link } = makeLink();
  const huge = Buffer.from([0x58, 0xff, 0xff, 0xff, 0xff]);
  assert.equal(kinds(link.handle({ type: 'control', chunk: huge })), ['kill-vm']);
  assert.match(result(link.handle(exited)).message!, /corrupt control stream/);
  const bad = makeLink().link;
  bad.handle(hello());
  bad.handle(control('R'));
  assert.equal(kinds(bad.handle(control('X', Buffer.alloc(3)))), ['kill-vm']);
  const r = result(bad.handle(exited));
  assert.is(r.exitCode, 125);
  assert.match(r.message!, /malformed X frame/);
});

test('F: HyperStart gets a grace to power off, then the VM is killed; 125 with its message, no console', () => {
  const { link } = makeLink();
  link.handle(hello());
  const a = link.handle(control('F', Buffer.from('user "bob" not found')));
  assert.equal(a, [{ type: 'set-timer', name: 'failure-grace', ms: FAILURE_GRACE_MS }]);
  assert.equal(kinds(link.handle({ type: 'timer', name: 'failure-grace' })), ['kill-vm']);
  const r = result(link.handle(exited));
  assert.equal([r.exitCode, r.outcome, r.message, r.withConsole], [125, 'hyperstart-failed', 'HyperStart failed: user "bob" not found', false]);
});

test('the VM dies without X: a short grace for late frames, then 125 vm-died with the console', () => {
  const { link } = makeLink();
  link.handle(hello());
  assert.equal(kinds(link.handle({ type: 'vm-exited', exit: { code: null, signal: 'SIGSEGV', diagnostics: 'qemu: boom' } })), ['set-timer:exit-grace']);
  const r = result(link.handle({ type: 'timer', name: 'exit-grace' }));
  assert.equal([r.exitCode, r.outcome, r.withConsole], [125, 'vm-died', true]);
  assert.is(r.message, 'the VM stopped before the app exited (killed by SIGSEGV): qemu: boom');
});

test('frames read after the VM exited still count: a late X gives the app code, a late F its failure', () => {
  const late = makeLink().link;
  late.handle(hello());
  late.handle(control('R'));
  late.handle(exited);
  const a = late.handle(exitFrame(7));
  assert.is(result(a).exitCode, 7);
  assert.is(types(a), 'B');
  const f = makeLink().link;
  f.handle(hello());
  f.handle(exited);
  assert.is(result(f.handle(control('F', Buffer.from('no such user')))).message, 'HyperStart failed: no such user');
});

test('--timeout: the timer is set at start; when it fires the VM is killed → 124, also over an app that just exited', () => {
  const { link } = makeLink({ timeoutMs: 300 });
  assert.equal(link.start(), [{ type: 'set-timer', name: 'timeout', ms: 300 }]);
  link.handle(hello());
  assert.equal(kinds(link.handle({ type: 'timer', name: 'timeout' })), ['kill-vm']);
  const r = result(link.handle(exited));
  assert.equal([r.exitCode, r.outcome, r.withConsole], [EXIT_TIMEOUT, 'timeout', true]);
  assert.match(r.message!, /took longer than 300 ms/);

  const racing = makeLink({ timeoutMs: 300 }).link;
  racing.handle(hello());
  racing.handle(control('R'));
  racing.handle(exitFrame(0));
  racing.handle({ type: 'timer', name: 'timeout' });
  assert.is(result(racing.handle(exited)).exitCode, EXIT_TIMEOUT, 'the first decided outcome wins over the app exit');
});

test('a signal before R is held and sent as K after R; the stop timeout kills an app that ignores it → 137', () => {
  const { link } = makeLink({ stopTimeoutMs: 200 });
  link.handle(hello());
  assert.equal(link.handle({ type: 'signal', signal: 'SIGINT' }), [{ type: 'set-timer', name: 'stop', ms: 200 }]);
  const onR = link.handle(control('R'));
  assert.is(types(onR), 'KE');
  assert.is(frames(onR)[0].payload.readUInt32BE(0), 2);
  const a = link.handle({ type: 'timer', name: 'stop' });
  assert.ok(a.some((x) => x.type === 'say' && x.line === 'hyperbuild: the app did not stop within 200 ms of SIGINT; killing the VM'));
  assert.ok(a.some((x) => x.type === 'kill-vm'));
  assert.equal([result(link.handle(exited)).exitCode, link.state], [EXIT_STOP_KILLED, 'done']);
});

test('a forwarded signal the app obeys: its own exit code; the stop timer after X changes nothing', () => {
  const { link } = makeLink();
  link.handle(hello());
  link.handle(control('R'));
  const k = link.handle({ type: 'signal', signal: 'SIGTERM' });
  assert.is(frames(k)[0].payload.readUInt32BE(0), 15);
  link.handle(exitFrame(143));
  assert.equal(link.handle({ type: 'timer', name: 'stop' }), []);
  assert.is(result(link.handle(exited)).exitCode, 143);
});

test('a second signal means it: the VM is killed → 128+N, even while powering off', () => {
  const { link } = makeLink();
  link.handle(hello());
  link.handle(control('R'));
  link.handle({ type: 'signal', signal: 'SIGINT' });
  link.handle(exitFrame(0));
  assert.is(link.state, 'powering-off');
  assert.equal(kinds(link.handle({ type: 'signal', signal: 'SIGTERM' })), ['kill-vm']);
  const r = result(link.handle(exited));
  assert.equal([r.exitCode, r.outcome], [128 + 15, 'stop-killed']);
});

test('the first decided outcome wins: a second signal after --timeout fired does not change 124', () => {
  const { link } = makeLink({ timeoutMs: 300 });
  link.start();
  link.handle(hello());
  link.handle(control('R'));
  link.handle({ type: 'signal', signal: 'SIGINT' });
  link.handle({ type: 'timer', name: 'timeout' });
  assert.equal(kinds(link.handle({ type: 'signal', signal: 'SIGINT' })), ['kill-vm']);
  assert.is(result(link.handle(exited)).exitCode, EXIT_TIMEOUT);
});

test('-t: the window size goes with R and on every resize; -i: stdin forwarding starts instead of E', () => {
  let size = { rows: 40, cols: 100 };
  const { link } = makeLink({ tty: true, interactive: true, windowSize: () => size });
  link.handle(hello());
  assert.equal(link.handle({ type: 'resize' }), [], 'no W before the app runs');
  const onR = link.handle(control('R'));
  assert.equal(kinds(onR), ['send:W', 'forward-stdin']);
  const w = frames(onR)[0].payload;
  assert.equal([w.readUInt16BE(0), w.readUInt16BE(2)], [40, 100]);
  size = { rows: 50, cols: 132 };
  const resized = frames(link.handle({ type: 'resize' }))[0].payload;
  assert.equal([resized.readUInt16BE(0), resized.readUInt16BE(2)], [50, 132]);
  const noTty = makeLink({ windowSize: () => size }).link;
  noTty.handle(hello());
  assert.is(types(noTty.handle(control('R'))), 'E', 'no W without -t');
});

test('unknown and out-of-order guest frames are ignored', () => {
  const { link } = makeLink();
  assert.equal(link.handle(control('R')), []);
  assert.equal(link.handle({ type: 'control', chunk: encodeFrame('Z' as 'H') }), []);
  assert.is(types(link.handle(hello())), 'S');
  assert.equal(link.handle(hello()), [], 'a second H is not answered');
  assert.is(link.state, 'spec-sent');
});

test.run();
