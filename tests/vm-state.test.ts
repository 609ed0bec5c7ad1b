/**
 * The detached-VM state without a VM (toolchain/vm/): the state root's rules,
 * names (grammar, atomic claim, closest match), the O_EXCL lock (busy, stale
 * takeover), damaged records, the liveness check behind `ps` (pid + start
 * time), log records and lines, signal names and the supervisor's argv.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadInputError, HyperbuildError } from '../toolchain/errors/errors.ts';
import { parseSignal } from '../toolchain/vm/control.ts';
import { createVm, discardVm } from '../toolchain/vm/create.ts';
import { lockVm } from '../toolchain/vm/lock.ts';
import { parseLogRecords, toLines } from '../toolchain/vm/logs.ts';
import { assertValidName, claimName, closestMatch, resolveVm } from '../toolchain/vm/names.ts';
import { isAlive, processStartTime, selfProcId } from '../toolchain/vm/proc.ts';
import { liveState, viewVm } from '../toolchain/vm/ps.ts';
import { readConfig, DamagedRecordError } from '../toolchain/vm/records.ts';
import { ensureStateRoot, stateRoot, VM_FILES } from '../toolchain/vm/state-dir.ts';
import { supervisorArgs } from '../toolchain/vm/supervisor.ts';
import { tempDir } from './helpers/places.ts';

const root = ensureStateRoot({ HYPERBUILD_STATE_DIR: tempDir('vm-units') });

function throwsWith(fn: () => unknown, cls: typeof HyperbuildError, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    assert.instance(err, cls);
    assert.match((err as Error).message, pattern);
    assert.ok((err as HyperbuildError).hint, 'a hint says what to do');
    return;
  }
  assert.unreachable('expected a refusal');
}

/** A pid that is certainly not running: a child that has exited and been reaped. */
const deadPid = () => spawnSync('true').pid!;

test('state root: HYPERBUILD_STATE_DIR, XDG_RUNTIME_DIR (which must exist), /run as root, /tmp else', () => {
  assert.is(stateRoot({ HYPERBUILD_STATE_DIR: '/x/y' }), '/x/y');
  const xdg = tempDir('vm-xdg');
  assert.is(stateRoot({ XDG_RUNTIME_DIR: xdg }), join(xdg, 'hyperbuild'));
  throwsWith(() => stateRoot({ XDG_RUNTIME_DIR: join(xdg, 'missing') }), BadInputError, /XDG_RUNTIME_DIR=.*missing is not a directory/);
  assert.is(stateRoot({}), process.getuid!() === 0 ? '/run/hyperbuild' : `/tmp/hyperbuild-${process.getuid!()}`);
  throwsWith(() => ensureStateRoot({ HYPERBUILD_STATE_DIR: join(tempDir('vm-long'), 'x'.repeat(90)) }), BadInputError, /too long for unix socket paths/);
});

test('names: docker grammar; ID-like hex and spaces refused', () => {
  for (const ok of ['web', 'a', 'web_1.prod-2', 'X9']) assertValidName(ok);
  for (const bad of ['', '-web', '.x', 'has space', 'a/b', 'x'.repeat(65), '0123456789ab']) {
    throwsWith(() => assertValidName(bad), BadInputError, /is not a valid VM name/);
  }
});

test('names are claimed once (symlink), a dead VM\'s name is reclaimed, lookups by name, ID prefix, with the closest match', () => {
  const a = createVm(root, '/b/hello', 'alpha');
  throwsWith(() => createVm(root, '/b/hello', 'alpha'), BadInputError, /the name 'alpha' is already in use by VM [0-9a-f]{12}/);
  // A name whose VM directory is gone (a crash between the two) is free again.
  symlinkSync('../000000000000', join(root, 'names', 'ghost'));
  claimName(root, 'ghost', 'f'.repeat(64));
  assert.is(resolveVm(root, 'alpha').shortId, a.id.slice(0, 12));
  assert.is(resolveVm(root, a.id.slice(0, 5)).dir, a.dir);
  assert.is(resolveVm(root, a.id).dir, a.dir);
  throwsWith(() => resolveVm(root, 'alpah'), BadInputError, /^no VM named or with ID 'alpah'$/);
  try { resolveVm(root, 'alpah'); } catch (err) { assert.match((err as HyperbuildError).hint!, "did you mean 'alpha'?"); }
  assert.is(closestMatch('web1', ['db', 'web', 'worker']), 'web');
  const b = createVm(root, '/b/hello');
  assert.match(b.name, /^hello-[0-9a-f]{6}$/);
  discardVm(a);
  discardVm(b);
  assert.not.ok(existsSync(a.dir) || existsSync(join(root, 'names', 'alpha')));
});

test('lock: a live holder makes the second command fail with one line; a dead holder\'s lock is taken over', () => {
  const vm = createVm(root, '/b/x', 'locked');
  const unlock = lockVm(vm.dir, 'locked', 'stop');
  throwsWith(() => lockVm(vm.dir, 'locked', 'stop'), HyperbuildError, /^locked is busy: `hyperbuild stop` \(pid \d+\) is working on it$/);
  unlock();
  writeFileSync(join(vm.dir, VM_FILES.lock), `${deadPid()} 12345 rm\n`);
  const again = lockVm(vm.dir, 'locked', 'rm');
  assert.match(readFileSync(join(vm.dir, VM_FILES.lock), 'utf8'), new RegExp(`^${process.pid} `));
  again();
  discardVm(vm);
  throwsWith(() => lockVm(vm.dir, 'locked', 'rm'), BadInputError, /locked no longer exists/);
});

test('processes are named by pid and start time: a reused pid is not ours, nor a dead one', () => {
  const me = selfProcId();
  assert.ok(me.start > 0 && processStartTime(process.pid) === me.start);
  assert.ok(isAlive(me));
  assert.not.ok(isAlive({ pid: me.pid, start: me.start + 1 }), 'same pid, other start time: another process');
  assert.not.ok(isAlive({ pid: deadPid(), start: 1 }));
  assert.not.ok(isAlive(undefined));
});

test('ps: a status that says running while its QEMU and supervisor are gone is shown as exited, with why', () => {
  const gone = { pid: deadPid(), start: 1 };
  assert.equal(liveState({ state: 'running', qemu: gone, supervisor: gone }), { state: 'exited', message: `QEMU (pid ${gone.pid}) is gone and no exit was recorded` });
  assert.equal(liveState({ state: 'running', qemu: selfProcId() }), { state: 'running' });
  assert.equal(liveState({ state: 'starting', supervisor: gone }).state, 'exited');
  assert.equal(liveState({ state: 'running', supervisor: selfProcId() }), { state: 'running' }, 'a foreground run: its hyperbuild supervises');
  const vm = createVm(root, '/b/x', 'damaged');
  writeFileSync(join(vm.dir, VM_FILES.config), '{"schemaVersion": 1, "id": 7}');
  assert.throws(() => readConfig(vm.dir), (e: Error) => e instanceof DamagedRecordError && /missing or mistyped/.test(e.message));
  const v = viewVm({ shortId: vm.id.slice(0, 12), dir: vm.dir });
  assert.is(v.state, 'exited');
  assert.match(v.damaged ?? '', 'config.json has missing or mistyped fields');
  discardVm(vm);
});

test('log records: TIME STREAM F|P BYTES; P records join their stream\'s next F; bytes may hold anything but newline', () => {
  const raw = Buffer.from([
    '2024-01-01T00:00:00.000000001Z stdout P hel',
    '2024-01-01T00:00:00.000000002Z stderr F e r r',
    '2024-01-01T00:00:00.000000003Z stdout F lo\t\x00!',
    'garbage line',
    '2024-01-01T00:00:00.000000004Z stdout F ',
    '2024-01-01T00:00:00.000000005Z stdout F incomplete',
  ].join('\n'));
  const { records, used } = parseLogRecords(raw);
  assert.is(records.length, 4, 'the garbage line is skipped, the unterminated last record waits');
  assert.is(used, raw.lastIndexOf(0x0a) + 1);
  const lines = toLines(records).map((l) => [l.stream, l.bytes.toString('latin1'), l.time]);
  assert.equal(lines, [
    ['stderr', 'e r r', '2024-01-01T00:00:00.000000002Z'],
    ['stdout', 'hello\t\x00!', '2024-01-01T00:00:00.000000001Z'],
    ['stdout', '', '2024-01-01T00:00:00.000000004Z'],
  ]);
});

test('signals: names with or without SIG, numbers; anything else refused', () => {
  assert.equal(parseSignal('KILL'), { name: 'SIGKILL', number: 9 });
  assert.equal(parseSignal('sigterm'), { name: 'SIGTERM', number: 15 });
  assert.equal(parseSignal('1'), { name: 'SIGHUP', number: 1 });
  throwsWith(() => parseSignal('NOPE'), BadInputError, /-s 'NOPE' is not a signal/);
  throwsWith(() => parseSignal('999'), BadInputError, /is not a signal/);
});

test('the supervisor\'s argv carries the jail: identity, inherited files, what to hand over', () => {
  const args = supervisorArgs({
    dir: '/s/abc', version: '2', logMaxBytes: 4096, timeoutMs: 1500, tty: true, autoRemove: true, nameLink: '/s/names/web',
    launch: { command: 'qemu', args: ['-m', '64M'], uid: 999, gid: 998, files: [{ childFd: 3, hostPath: '/b/kernel' }], handOver: ['/s/abc/chan', '/s/abc/chan/ctl.sock'] },
  });
  assert.equal(args, [
    '--dir', '/s/abc', '--version', '2', '--log-max', '4096', '--name-link', '/s/names/web', '--ready-fd', '3',
    '--timeout-ms', '1500', '--tty', '--rm', '--uid', '999', '--gid', '998', '--file', '3=/b/kernel',
    '--own', '/s/abc/chan', '--own', '/s/abc/chan/ctl.sock', '--', 'qemu', '-m', '64M',
  ]);
});

test.run();
