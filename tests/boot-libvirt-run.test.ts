/**
 * `hyperbuild boot --hypervisor libvirt`: the docker-run set of the QEMU
 * backend's tests (exit codes, overrides, stdin, TTY, a port forward,
 * signals, --timeout, volumes, a disk rootfs) against the tests' own private
 * libvirtd (helpers/libvirtd.ts), through the CLI. Also: the QEMU libvirt
 * starts is jailed (seccomp, unprivileged when we are root, 0700 socket
 * directory), no domain outlives a kill -9 of hyperbuild, a refused
 * connection is one line + hint + 125, and nothing is left at the end.
 * Skipped when libvirtd, QEMU or a kernel is missing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JAIL_USER } from '../toolchain/boot/jail.ts';
import { makeTestBundle } from './helpers/boot-bundle.ts';
import { runOnPty } from './helpers/boot-pty.ts';
import { cliArgv, FIXTURES, hyperbuild, runCli } from './helpers/cli.ts';
import { startLibvirtd } from './helpers/libvirtd.ts';
import { tempDir } from './helpers/places.ts';
import { fetchThenTerminate, freePort } from './helpers/http-probe.ts';

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const work = tempDir('libvirt-run');
const bundle = haveQemu ? await makeTestBundle({ dir: join(work, 'bundle'), kernel: 'best' }) : undefined;
const lv = bundle ? await startLibvirtd() : undefined;
const ok = !!lv && !!bundle;
const root = process.geteuid?.() === 0;
const base = () => ['boot', '--hypervisor', 'libvirt', '--connect', lv!.uri, '--accel', 'tcg', '--timeout', '180s'];

const when = (cond: boolean, name: string, fn: () => Promise<void>) =>
  test(cond ? name : `${name} (skipped: ${!haveQemu ? 'no qemu' : !bundle ? 'no kernel' : !lv ? 'no libvirtd' : 'kernel lacks the feature'})`, cond ? fn : () => {});

const boot = (args: string[], o: { input?: string; env?: NodeJS.ProcessEnv; onStdout?: (s: string, pid: number) => void } = {}) =>
  runCli([...base(), ...args], { from: 'source', ...o });

/** QEMU processes libvirt started for this suite's daemon (their argv names its private directory). */
function libvirtQemus(): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).flatMap((n) => {
    try {
      if (!readFileSync(`/proc/${n}/comm`, 'utf8').startsWith('qemu-system')) return [];
      return readFileSync(`/proc/${n}/cmdline`, 'latin1').includes(lv!.dir) ? [Number(n)] : [];
    } catch { return []; }
  });
}

const status = (pid: number, field: string) =>
  (readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`)) ?? '').slice(field.length + 1).trim();

when(ok, 'exit 42, stdout/stderr separated, env/workdir/user/hostname/args overrides', async () => {
  const r = await boot(['-e', 'FOO=bar', '-e', 'HOST_VAR', '-w', '/tmp/wd', '-u', '1000:1000', '--hostname', 'lvtest', bundle!.dir, '--',
    'sh', '-c', 'echo out; echo err >&2; echo "$FOO|$HOST_VAR|$IMAGE_VAR|$(pwd)|$(id -u):$(id -g)|$(hostname)|$0"; exit 42', 'zero'], { env: { HOST_VAR: 'from host' } });
  assert.is(r.status, 42, r.stderr);
  assert.is(r.stdout, 'out\nbar|from host|from-image|/tmp/wd|1000:1000|lvtest|zero\n');
  assert.match(r.stderr, /^err$/m);
});

when(ok, 'the image\'s default command; the --report says libvirt on q35', async () => {
  const report = join(work, 'report.json');
  const r = await boot(['--report', report, bundle!.dir]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'hello from hyperbuild\n');
  const json = JSON.parse(readFileSync(report, 'utf8')) as { exitCode: number; hypervisor: string; machine: string; accel: string };
  assert.equal([json.exitCode, json.hypervisor, json.machine, json.accel], [0, 'libvirt', 'q35', 'tcg']);
});

when(ok, 'exit codes: not found 127, not executable 126, killed by SIGTERM 143, false 1', async () => {
  assert.is((await boot(['--entrypoint', '/no/such/cmd', bundle!.dir])).status, 127);
  assert.is((await boot([bundle!.dir, '--', '/www/index.html'])).status, 126);
  assert.is((await boot([bundle!.dir, '--', 'sh', '-c', 'kill -TERM $$'])).status, 143);
  assert.is((await boot([bundle!.dir, '--', 'false'])).status, 1);
});

when(ok, '-i forwards stdin, EOF ends it; -t gives a pseudo-terminal', async () => {
  const r = await boot(['-i', bundle!.dir, '--', 'sh', '-c', 'tr a-z A-Z; echo done'], { input: 'hello stdin\n' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'HELLO STDIN\ndone\n');
  const t = await boot(['-t', bundle!.dir, '--', 'sh', '-c', 'tty; stty size; exit 3']);
  assert.is(t.status, 3, t.stderr);
  assert.match(t.stdout, /^\/dev\/pts\/\d+\r\n24 80\r\n$/);
});

when(ok && spawnSync('python3', ['--version']).status === 0, '-it on a real terminal: keys and window size reach the app', async () => {
  const cli = [...cliArgv(base(), 'source'), '-it', bundle!.dir, '--', 'sh', '-c', 'echo READY; read line; echo "got:$line"; stty size; exit 4']
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const r = await runOnPty(['sh', '-c', `${cli}; echo "EXIT=$?"`], { rows: 40, cols: 100, keys: 'hello\r' });
  assert.match(r.output, /got:hello\r+\n40 100\r+\n/);
  assert.match(r.output, /EXIT=4/);
});



when(ok, '-p: the guest\'s httpd answers on the host port; SIGTERM to hyperbuild reaches the app (143)', async () => {
  const port = await freePort();
  const probe = fetchThenTerminate(port);
  const r = await boot(['-p', `${port}:80`, '--stop-timeout', '5', bundle!.dir, '--', 'sh', '-c', 'httpd -p 80 -h /www && echo serving && sleep 60'], { onStdout: probe.onStdout });
  assert.is(probe.fetched(), 'hello from the guest\n');
  assert.is(r.status, 143, r.stderr);
});

when(ok, 'SIGINT is forwarded: the app\'s trap runs and its exit code counts', async () => {
  let sent = false;
  const r = await boot([bundle!.dir, '--', 'sh', '-c', 'trap "echo got INT; exit 7" INT; echo ready; while :; do sleep 1; done'], {
    onStdout: (s, pid) => { if (!sent && s.includes('ready')) { sent = true; process.kill(pid, 'SIGINT'); } },
  });
  assert.is(r.status, 7, r.stderr);
  assert.is(r.stdout, 'ready\ngot INT\n');
});

when(ok, '--timeout: the domain is destroyed, exit 124, no domain left', async () => {
  const r = await runCli(['boot', '--hypervisor', 'libvirt', '--connect', lv!.uri, '--accel', 'tcg', '--timeout', '8s', bundle!.dir, '--', 'sleep', '100'], { from: 'source' });
  assert.is(r.status, 124, r.stderr);
  assert.equal(lv!.domains(), []);
});

when(ok && bundle?.kernel.kind === 'hyperkernel', '-v: proxied volumes keep host owners, guest chown reaches the host, :ro is read-only', async () => {
  const vol = join(work, 'vol');
  mkdirSync(vol, { mode: 0o700 });
  writeFileSync(join(vol, 'secret'), 'root only\n', { mode: 0o600 });
  const ro = join(work, 'ro');
  mkdirSync(ro);
  const r = await boot(['-v', `${vol}:/data`, '-v', `${ro}:/ro:ro`, bundle!.dir, '--', 'sh', '-c',
    'cat /data/secret; echo w > /data/new; chown 1234:4321 /data/new; touch /ro/x 2>/dev/null || echo ro-refused']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'root only\nro-refused\n');
  const s = statSync(join(vol, 'new'));
  if (root) assert.is(`${s.uid}:${s.gid}`, '1234:4321');
  assert.is(readFileSync(join(vol, 'new'), 'utf8'), 'w\n');
});

const haveFixtures = existsSync(join(FIXTURES, 'busybox'));
when(ok && haveFixtures && bundle?.kernel.kind === 'hyperkernel', 'a disk rootfs (ext4) is attached read-only and the app writes to its overlay', async () => {
  const out = join(work, 'ext4');
  const b = hyperbuild(['build', `oci:${FIXTURES}/busybox:latest`, '-o', out, '--rootfs', 'ext4', '--cache-dir', join(work, 'cache')]);
  assert.is(b.status, 0, b.stderr);
  const r = await boot(['--network', 'none', out, '--', 'sh', '-c', 'cat /etc/motd >/dev/null && echo x > /etc/new && cat /etc/new && cat /sys/block/vda/ro']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'x\n1\n', 'the overlay takes the write; the disk itself is read-only');
});

when(ok, 'the QEMU libvirt starts is jailed: Seccomp 2, no capabilities, the VM user when we are root, sockets in its 0700 directory', async () => {
  let seen: { seccomp: string; cap: string; uid: number; dirMode: number; dirUid: number } | undefined;
  const r = await boot([bundle!.dir, '--', 'sh', '-c', 'echo ready; sleep 2'], {
    onStdout: (s) => {
      if (seen || !s.includes('ready')) return;
      const [pid] = libvirtQemus();
      assert.ok(pid, 'found libvirt\'s QEMU');
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
      const sock = argv.find((a) => a.includes('ctl.sock'))!.replace(/^.*path=/, '').replace(/ctl\.sock.*$/, '');
      const dir = statSync(sock);
      seen = { seccomp: status(pid, 'Seccomp'), cap: status(pid, 'CapEff'), uid: Number(status(pid, 'Uid').split(/\s+/)[1]), dirMode: dir.mode & 0o777, dirUid: dir.uid };
    },
  });
  assert.is(r.status, 0, r.stderr);
  assert.ok(seen, 'QEMU was inspected while the app ran');
  assert.is(seen!.seccomp, '2');
  assert.is(seen!.cap, '0000000000000000');
  const expected = root ? Number(spawnSync('id', ['-u', JAIL_USER], { encoding: 'utf8' }).stdout) : process.getuid!();
  assert.is(seen!.uid, expected);
  if (root) assert.ok(expected > 0);
  assert.is(seen!.dirMode, 0o700);
  assert.is(seen!.dirUid, expected);
});

when(ok, 'kill -9 of hyperbuild: the watchdog destroys the domain', async () => {
  let killed = false;
  const r = await boot([bundle!.dir, '--', 'sh', '-c', 'echo ready; sleep 100'], {
    onStdout: (s, pid) => { if (!killed && s.includes('ready')) { killed = true; process.kill(pid, 'SIGKILL'); } },
  });
  assert.ok(killed);
  assert.is(r.status, -1, 'killed');
  // Bounded wait for libvirt to tear the domain down (destroying takes it ~2 s here), not a timing assertion.
  for (let i = 0; i < 60 && (lv!.domains().length || libvirtQemus().length); i++) await new Promise((res) => setTimeout(res, 500));
  assert.equal(lv!.domains(), [], 'no domain left');
  assert.equal(libvirtQemus(), [], 'no QEMU left');
});

when(ok, 'a connection nobody answers: one line, the start hint, 125, before any domain', async () => {
  const r = await runCli(['boot', '--hypervisor', 'libvirt', '--connect', `qemu+unix:///session?socket=${join(work, 'nobody.sock')}`, bundle!.dir], { from: 'source' });
  assert.is(r.status, 125, r.stderr);
  assert.match(r.stderr, /^hyperbuild: error: cannot connect to libvirt at qemu\+unix:\/\/\/session\?socket=\S+nobody\.sock: .*No such file or directory$/m);
  assert.match(r.stderr, /^hint: start libvirtd/m);
});

test('nothing left: no domain, no QEMU of this daemon; the daemon stops', async () => {
  if (!lv) return;
  assert.equal(lv.domains(), []);
  assert.equal(libvirtQemus(), []);
  await lv.stop();
});

test.run();
