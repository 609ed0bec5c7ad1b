/**
 * VM templates with real boots (QEMU under TCG here, jailed as the CLI runs it):
 * the first boot makes the template, later boots start from it, and a warm
 * boot behaves exactly like a cold one (`--no-template`): exit codes,
 * overrides, stdin, signals, -p. A corrupted template, or one that passes
 * its digest check but cannot be restored, falls back to a cold boot with a
 * one-line notice. Templates live in this suite's own --cache-dir.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HYPERSTART_VERSION } from '../toolchain/hyperstart/protocol.ts';
import { makeTestBundle } from './helpers/boot-bundle.ts';
import { cliArgv } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';
import { fetchThenTerminate, freePort } from './helpers/http-probe.ts';
import { corrupt, makeStale } from './helpers/template-faults.ts';

const WORK = tempDir('boot-template');
const CACHE = join(WORK, 'cache');
const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const bundle = haveQemu ? await makeTestBundle({ dir: join(WORK, 'busybox'), kernel: 'best' }) : undefined;
const ok = !!bundle;
const CLI = cliArgv(['boot'], 'built');
const tcg = ['--accel', 'tcg', '--timeout', '120s', '--cache-dir', CACHE];

function qemuPids(): number[] {
  const r = spawnSync('pgrep', ['-f', `^qemu-system.*${WORK}/`]);
  return r.stdout.toString().split('\n').filter(Boolean).map(Number);
}

interface Run { code: number | null; stdout: string; stderr: string }

function boot(args: string[], o: { input?: string; onStdout?: (s: string, pid: number) => void } = {}): Promise<Run> {
  const child = spawn(CLI[0], [...CLI.slice(1), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d; o.onStdout?.(stdout, child.pid!); });
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  child.stdin.on('error', () => {}).end(o.input ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** The one template this suite's default shape makes. */
function templateDirs(): string[] {
  const root = join(CACHE, 'templates');
  return existsSync(root) ? readdirSync(root).filter((n) => !n.startsWith('.')).map((n) => join(root, n)) : [];
}

const KVM_NOTICE = /^hyperbuild: notice: \/dev\/kvm[^\n]*\n/m;
/** stderr without the TCG fallback notice this host prints on every boot. */
const own = (stderr: string) => stderr.replace(KVM_NOTICE, '');

const when = (cond: boolean, name: string, fn: () => Promise<void>) => (cond ? test(name, fn) : test(`${name} (skipped: ${haveQemu ? 'no kernel' : 'no qemu'})`, () => {}));

const overrides = ['-e', 'FOO=bar', '-w', '/tmp/wd', '-u', '1000:1000', '--hostname', 'warm'];
const script = 'echo out; echo err >&2; echo "$FOO|$IMAGE_VAR|$(pwd)|$(id -u):$(id -g)|$(hostname)|$0|$1"; exit 42';

when(ok, 'first boot makes the template, the next starts from it; warm and cold give the same output and exit code', async () => {
  const first = await boot([...tcg, '--verbose', ...overrides, bundle!.dir, '--', 'sh', '-c', script, 'zero', 'one']);
  assert.is(first.code, 42, first.stderr);
  assert.match(first.stderr, /hyperbuild: making VM template [0-9a-f]{12} in /);
  assert.match(first.stderr, /hyperbuild: restored from a VM template in \d+ ms/);
  const [dir] = templateDirs();
  assert.ok(dir, 'a template directory');
  assert.equal(readdirSync(dir).sort(), ['ram', 'state', 'template.json']);
  assert.is(statSync(join(CACHE, 'templates')).mode & 0o777, 0o700);
  const record = JSON.parse(readFileSync(join(dir, 'template.json'), 'utf8'));
  assert.is(record.bundleDigest, `sha256:${createHash('sha256').update(readFileSync(join(bundle!.dir, 'bundle.json'))).digest('hex')}`);

  const warm = await boot([...tcg, '--verbose', ...overrides, bundle!.dir, '--', 'sh', '-c', script, 'zero', 'one']);
  const cold = await boot([...tcg, '--no-template', ...overrides, bundle!.dir, '--', 'sh', '-c', script, 'zero', 'one']);
  assert.not.match(warm.stderr, /making VM template/, 'the template is reused');
  assert.match(warm.stderr, /restored from a VM template/);
  assert.match(warm.stderr, /hyperbuild: own time \d+ ms \(start to qemu spawn \d+ ms: cli \d+, bundle \d+, preflight \d+, plan \d+, template lookup \d+; app exit to process exit \d+ ms\), from a VM template/);
  for (const r of [first, warm, cold]) {
    assert.is(r.code, 42, r.stderr);
    assert.is(r.stdout, 'out\nbar|from-image|/tmp/wd|1000:1000|warm|zero|one\n');
    assert.match(r.stderr, /^err$/m);
  }
  assert.is(own(cold.stderr), 'err\n', 'a cold boot says nothing of templates');
  assert.is(templateDirs().length, 1, 'one template for one bundle and shape');
});

when(ok, 'warm boots: command not found 127, killed by a signal 128+N, stdin with -i, SIGINT forwarded (trap runs)', async () => {
  const missing = await boot([...tcg, bundle!.dir, '--', 'no-such-command']);
  assert.is(missing.code, 127, missing.stderr);
  const killed = await boot([...tcg, bundle!.dir, '--', 'sh', '-c', 'kill -TERM $$']);
  assert.is(killed.code, 143, killed.stderr);
  const stdin = await boot([...tcg, '-i', bundle!.dir, '--', 'sh', '-c', 'tr a-z A-Z; echo "[eof]"'], { input: 'from the host\n' });
  assert.is(stdin.code, 0, stdin.stderr);
  assert.is(stdin.stdout, 'FROM THE HOST\n[eof]\n');
  let sent = false;
  const int = await boot([...tcg, bundle!.dir, '--', 'sh', '-c', 'trap "echo got INT; exit 7" INT; echo ready; while :; do sleep 1; done'], {
    onStdout: (s, pid) => { if (!sent && s.includes('ready')) { sent = true; process.kill(pid, 'SIGINT'); } },
  });
  assert.is(int.code, 7, int.stderr);
  assert.is(int.stdout, 'ready\ngot INT\n');
  for (const r of [missing, killed, stdin, int]) assert.not.match(r.stderr, /notice: VM template|making VM template/, r.stderr);
});



when(ok, '-p on a warm boot: the forward is added after restore and busybox httpd answers through it', async () => {
  const port = await freePort();
  const probe = fetchThenTerminate(port);
  const r = await boot([...tcg, '-p', `${port}:80`, '--stop-timeout', '5', bundle!.dir, '--', 'sh', '-c', 'httpd -p 80 -h /www && echo serving && sleep 60'], { onStdout: probe.onStdout });
  assert.is(probe.fetched(), 'hello from the guest\n');
  assert.is(r.code, 143, r.stderr);
  assert.not.match(r.stderr, /notice: VM template/);
});

// Clock and entropy come from the host in the runtime spec from protocol version 2 on (issue 11, item 2).
const fresh = HYPERSTART_VERSION !== '1';
(ok && fresh ? test : test.skip)('two warm boots read different /dev/urandom bytes; the guest clock is the host\'s to a second or two', async () => {
  const read = async () => {
    let seenAt = 0;
    const r = await boot([...tcg, bundle!.dir, '--', 'sh', '-c', 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; date +%s'], {
      onStdout: (s) => { if (s.split('\n').length > 2) seenAt ||= Date.now() / 1000; },
    });
    return { ...r, seenAt };
  };
  const [a, b] = [await read(), await read()];
  for (const r of [a, b]) assert.is(r.code, 0, r.stderr);
  const [bytesA, secondsA] = a.stdout.trim().split('\n');
  const [bytesB, secondsB] = b.stdout.trim().split('\n');
  assert.match(bytesA, /^[0-9a-f]{32}$/);
  assert.is.not(bytesA, bytesB, 'clones of one template must not share their RNG output');
  // `date +%s` truncates, and the line reaches us a little after the guest read its clock.
  for (const [guest, host] of [[Number(secondsA), a.seenAt], [Number(secondsB), b.seenAt]]) {
    assert.ok(host - guest > -1 && host - guest < 2, `guest clock ${guest} vs host ${host.toFixed(2)} when its output arrived`);
  }
});


when(ok, 'a corrupted template falls back to a cold boot with one notice line, and is made again next time', async () => {
  const [dir] = templateDirs();
  corrupt(join(dir, 'state'));
  const r = await boot([...tcg, bundle!.dir, '--', 'sh', '-c', 'echo cold anyway; exit 3']);
  assert.is(r.code, 3, r.stderr);
  assert.is(r.stdout, 'cold anyway\n');
  assert.is(own(r.stderr), `hyperbuild: notice: VM template ${dir.split('/').pop()!.slice(0, 12)} not used (state does not match its recorded digest (changed or corrupted)); booting cold\n`);
  assert.not.ok(existsSync(dir), 'the bad template is removed');
  const again = await boot([...tcg, '--verbose', bundle!.dir]);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stderr, /making VM template/);
  assert.match(again.stderr, /restored from a VM template/);
});

when(ok, 'a template that passes its digest check but cannot be restored (stale device state) also falls back to cold', async () => {
  const [dir] = templateDirs();
  makeStale(dir);
  const r = await boot([...tcg, bundle!.dir, '--', 'sh', '-c', 'echo still runs']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'still runs\n');
  const lines = own(r.stderr).split('\n').filter(Boolean);
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], /^hyperbuild: notice: VM template [0-9a-f]{12} not used \(restoring it failed: .+\); booting cold$/);
  assert.not.ok(existsSync(dir));
});

test('no QEMU left behind', () => {
  assert.equal(qemuPids(), []);
});

test.run();
