/**
 * Detached VMs started from VM templates (QEMU under TCG, jailed as the CLI
 * runs it, through the built CLI): the first `run -d` of a bundle makes the
 * template, later ones hand the supervisor a clone to restore over QMP
 * (supervisor/restore.c), and a warm VM behaves like a cold one: answers on
 * -p, its logs hold the app's output, exec works, stop ends it. A damaged
 * template (corrupted, or passing its digest check but not restorable) falls
 * back to a cold VM with the one-line notice; `--no-template` goes cold. Its
 * own state root and --cache-dir; nothing is left running at the end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestBundle } from './helpers/boot-bundle.ts';
import { hyperbuild, type CliResult } from './helpers/cli.ts';
import { freePort, httpGet } from './helpers/http-probe.ts';
import { tempDir } from './helpers/places.ts';
import { corrupt, makeStale } from './helpers/template-faults.ts';

const WORK = tempDir('vm-template');
// Its own temp directory: the state root is made 0711 for QEMU's jail user, which could not pass WORK (0700).
const STATE = tempDir('vm-template-state');
const CACHE = join(WORK, 'cache');
const env = { HYPERBUILD_STATE_DIR: STATE };
const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const bundle = haveQemu ? await makeTestBundle({ dir: join(WORK, 'busybox'), kernel: 'best' }) : undefined;

const hb = (...args: string[]): CliResult => hyperbuild(args, { env, timeoutMs: 180_000 });
const runD = (...args: string[]): CliResult => hb('run', '-d', '--accel', 'tcg', '--cache-dir', CACHE, ...args);
const KVM_NOTICE = /^hyperbuild: notice: \/dev\/kvm[^\n]*\n/m;
const own = (stderr: string) => stderr.replace(KVM_NOTICE, '');

function when(name: string, fn: () => Promise<void> | void) {
  if (bundle) test(name, fn);
  else test(`${name} (skipped: ${haveQemu ? 'no kernel' : 'no qemu'})`, () => {});
}

/** Processes whose working directory is in our state root: supervisors and their QEMUs. */
function ourProcesses(): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try { if (readlinkSync(`/proc/${p}/cwd`).startsWith(STATE)) pids.push(Number(p)); } catch { /* gone or not ours */ }
  }
  return pids;
}

function templateDirs(): string[] {
  const root = join(CACHE, 'templates');
  return existsSync(root) ? readdirSync(root).filter((n) => !n.startsWith('.')).map((n) => join(root, n)) : [];
}

/** The VM's QEMU argv (from its status.json): a clone waits for its state (`-incoming defer`). */
function qemuArgv(id: string): string[] {
  const status = JSON.parse(readFileSync(join(STATE, id.slice(0, 12), 'status.json'), 'utf8'));
  return readFileSync(`/proc/${status.qemu.pid}/cmdline`, 'utf8').split('\0');
}
const isClone = (id: string) => qemuArgv(id).includes('-incoming');

/** `R` means httpd was exec'd, not that it listens yet: ask again until it answers. */
async function get(port: number): Promise<string> {
  for (let i = 0; ; i++) {
    try {
      return await httpGet(port, '/');
    } catch (err) {
      if (i >= 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}


test.after(() => {
  const ids = hb('ps', '-aq').stdout.split('\n').filter(Boolean);
  if (ids.length) hb('rm', '-f', ...ids);
  for (const pid of ourProcesses()) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
});

when('the first run -d makes the template; the next is its clone: -p answers, logs, exec, stop (143), and it is gone', async () => {
  const first = runD('--name', 'maker', bundle!.dir, '--', 'sh', '-c', 'echo made; exit 4');
  assert.is(first.status, 0, first.stderr);
  assert.is(templateDirs().length, 1, 'the first run -d made the template');
  assert.is(hb('wait', 'maker').stdout, '4\n');

  const port = await freePort();
  const r = runD('--name', 'web', '-p', `${port}:80`, bundle!.dir, '--', 'sh', '-c', 'echo serving; exec httpd -f -v -h /www');
  assert.is(r.status, 0, r.stderr);
  assert.is(own(r.stderr), '', 'a warm start says nothing');
  const id = r.stdout.trim();
  assert.ok(isClone(id), 'QEMU restores the template (-incoming defer)');
  assert.is(await get(port), 'hello from the guest\n');
  assert.match(readFileSync(join(STATE, id.slice(0, 12), 'supervisor.log'), 'utf8'), /restored from the VM template in \d+ ms/);
  assert.is(hb('logs', 'web').stdout, 'serving\n');
  const ex = hb('exec', 'web', '--', 'sh', '-c', 'wget -qO- http://127.0.0.1:80/; echo "$IMAGE_VAR" >&2; exit 3');
  assert.equal([ex.status, ex.stdout, ex.stderr], [3, 'hello from the guest\n', 'from-image\n']);
  const t = Date.now();
  const stop = hb('stop', '-t', '10', 'web');
  assert.is(stop.status, 0, stop.stderr);
  assert.ok(Date.now() - t < 9000, 'the clone ended on SIGTERM, not at the stop timeout');
  const w = hb('wait', 'web');
  assert.is(w.stdout, '143\n');
  const v = JSON.parse(hb('ps', '-a', '--json').stdout).find((x: { name: string }) => x.name === 'web');
  assert.is(v.state, 'exited');
  assert.is(v.outcome, 'exited');
  assert.equal(ourProcesses(), [], 'no QEMU or supervisor stays after stop');
  assert.is(hb('rm', 'web', 'maker').status, 0);
});

when('--no-template starts it cold', async () => {
  const r = runD('--no-template', '--name', 'cold', bundle!.dir, '--', 'sleep', '100');
  assert.is(r.status, 0, r.stderr);
  assert.not.ok(isClone(r.stdout.trim()));
  assert.is(hb('rm', '-f', 'cold').status, 0);
});

when('a corrupted template: one notice, the VM starts cold, and the next run -d makes it again', async () => {
  const [dir] = templateDirs();
  corrupt(join(dir, 'state'));
  const r = runD('--name', 'bad', bundle!.dir, '--', 'sh', '-c', 'echo cold anyway; sleep 100');
  assert.is(r.status, 0, r.stderr);
  assert.is(own(r.stderr), `hyperbuild: notice: VM template ${dir.split('/').pop()!.slice(0, 12)} not used (state does not match its recorded digest (changed or corrupted)); booting cold\n`);
  assert.not.ok(isClone(r.stdout.trim()));
  assert.not.ok(existsSync(dir), 'the bad template is removed');
  assert.is(hb('rm', '-f', 'bad').status, 0);
  const again = runD('--name', 'again', bundle!.dir, '--', 'sleep', '100');
  assert.is(again.status, 0, again.stderr);
  assert.is(templateDirs().length, 1);
  assert.is(hb('rm', '-f', 'again').status, 0);
});

when('a template that passes its digest check but cannot be restored: the supervisor says so, and the VM starts cold in its place', async () => {
  const [dir] = templateDirs();
  makeStale(dir);
  const r = runD('--name', 'stale', bundle!.dir, '--', 'sh', '-c', 'echo still runs; exit 5');
  assert.is(r.status, 0, r.stderr);
  const lines = own(r.stderr).split('\n').filter(Boolean);
  assert.is(lines.length, 1, r.stderr);
  assert.match(lines[0], /^hyperbuild: notice: VM template [0-9a-f]{12} not used \(restoring it failed: .+\); booting cold$/);
  assert.not.ok(existsSync(dir));
  assert.is(hb('wait', 'stale').stdout, '5\n');
  assert.is(hb('logs', 'stale').stdout, 'still runs\n');
  assert.is(hb('rm', 'stale').status, 0);
});

test('no QEMU or supervisor left behind', () => {
  assert.equal(ourProcesses(), []);
});

test.run();
