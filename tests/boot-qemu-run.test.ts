/**
 * Real boots under QEMU (TCG here: slow, ~10 s a boot) through the CLI code.
 * Skipped when QEMU or a kernel is missing. Each boot checks as much as it can.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleFileList } from '../toolchain/bundle/manifest.ts';
import { writeBundle } from '../toolchain/bundle/write-bundle.ts';
import { makeTestBundle, type TestBundle } from './helpers/boot-bundle.ts';
import { runOnPty } from './helpers/boot-pty.ts';
import { cliArgv, hyperbuild } from './helpers/cli.ts';
import { fetchThenTerminate, freePort } from './helpers/http-probe.ts';

// Fresh per run: bundles from an earlier run (maybe with another kernel) are never reused.
const WORK = mkdtempSync(join(tmpdir(), 'hyperbuild-boot-tests-'));
const CLI = cliArgv(['boot'], 'source');
const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
mkdirSync(WORK, { recursive: true });
const bundle: TestBundle | undefined = haveQemu ? await makeTestBundle({ dir: join(WORK, 'busybox-best'), kernel: 'best' }) : undefined;
const hasNinePee = bundle?.kernel.kind === 'hyperkernel';

/**
 * QEMUs booting this suite's bundles (all live under WORK). Other suites and
 * engineers run QEMU on this machine too, so a bare `pgrep qemu-system` count
 * before/after would blame their VMs on us.
 */
function qemuPids(): number[] {
  const r = spawnSync('pgrep', ['-f', `^qemu-system.*${WORK}/`]);
  return r.stdout.toString().split('\n').filter(Boolean).map(Number);
}
const qemuBefore = qemuPids();

interface Run { code: number | null; stdout: string; stderr: string; ms: number }

function boot(args: string[], o: { input?: string; env?: NodeJS.ProcessEnv; onStdout?: (s: string, pid: number) => void } = {}): Promise<Run> {
  const t = Date.now();
  const child = spawn(CLI[0], [...CLI.slice(1), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...o.env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d; o.onStdout?.(stdout, child.pid!); });
  child.stderr.on('data', (d: Buffer) => { stderr += d; });
  child.stdin.end(o.input ?? '');
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - t })));
}

const timings: { what: string; ms: number }[] = [];
const tcg = ['--accel', 'tcg', '--timeout', '120s'];

function when(cond: boolean, name: string, fn: () => Promise<void>) {
  if (cond) test(name, fn);
  else test(`${name} (skipped: ${!haveQemu ? 'no qemu' : !bundle ? 'no kernel' : 'kernel lacks the feature'})`, () => {});
}
const ok = haveQemu && !!bundle;

when(ok, 'exit 42, stdout/stderr separated, env/workdir/user/hostname/args overrides', async () => {
  const envFile = join(WORK, 'env-file');
  writeFileSync(envFile, 'FROM_FILE=file\nFOO=overridden-by-flag\n');
  const r = await boot([...tcg, '-e', 'FOO=bar', '-e', 'HOST_VAR', '--env-file', envFile, '-w', '/tmp/wd', '-u', '1000:1000', '--hostname', 'hbtest',
    bundle!.dir, '--', 'sh', '-c', 'echo out; echo err >&2; echo "$FOO|$FROM_FILE|$HOST_VAR|$IMAGE_VAR|$(pwd)|$(id -u):$(id -g)|$(hostname)|$#|$0"; exit 42', 'zero'],
  { env: { HOST_VAR: 'from host' } });
  timings.push({ what: 'exit 42 + overrides', ms: r.ms });
  assert.is(r.code, 42, r.stderr);
  assert.is(r.stdout, 'out\nbar|file|from host|from-image|/tmp/wd|1000:1000|hbtest|0|zero\n');
  assert.match(r.stderr, /^err$/m);
  assert.not.match(r.stdout, /err/);
});

when(ok, 'image default command, exit 0, --report result; stdout is only the app\'s', async () => {
  const report = join(WORK, 'report-default.json');
  const r = await boot([...tcg, '--report', report, bundle!.dir]);
  timings.push({ what: 'default cmd', ms: r.ms });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'hello from hyperbuild\n');
  const json = JSON.parse(readFileSync(report, 'utf8')) as { exitCode: number; durationMs: number; bootMs: number; machine: string };
  assert.is(json.exitCode, 0);
  assert.ok(json.durationMs > 0 && json.bootMs > 0);
  timings.push({ what: `  (bootMs to H: ${json.bootMs}, machine ${json.machine})`, ms: json.durationMs });
});

when(ok, '-t: the app runs on a pseudo-terminal (default 24x80 without a host terminal)', async () => {
  const r = await boot([...tcg, '-t', bundle!.dir, '--', 'sh', '-c', 'tty; stty size; echo "TERM=$TERM"; exit 3']);
  assert.is(r.code, 3, r.stderr);
  assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n24 80\r\nTERM=xterm\r\n$/);
});

when(ok && spawnSync('python3', ['--version']).status === 0, '-it on a real terminal: raw mode, keys and window size reach the app, terminal restored after', async () => {
  // `stty -a` runs on the same terminal after hyperbuild exits: it must be cooked again.
  const cli = [...CLI, ...tcg, '-it', bundle!.dir, '--', 'sh', '-c', 'echo READY; read line; echo "got:$line"; stty size; exit 4']
    .map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const r = await runOnPty(['sh', '-c', `${cli}; echo "EXIT=$?"; stty -a`], { rows: 40, cols: 100, keys: 'hello\r' });
  assert.ok(r.rawSeen, 'the host terminal was put in raw mode');
  // libuv's raw mode keeps ONLCR, so the guest pty's \r\n arrives as \r\r\n (renders the same).
  assert.match(r.output, /got:hello\r+\n40 100\r+\n/);
  assert.match(r.output, /EXIT=4/);
  const modes = r.output.slice(r.output.indexOf('EXIT=4'));
  assert.match(modes, /(^|\s)icanon(\s|$)/m, 'icanon restored');
  assert.match(modes, /(^|\s)echo(\s|$)/m, 'echo restored');
});

when(ok, '-v on a kernel without 9p (the Debian cloud kernel): refused before any VM exists → 2 with a hint', async () => {
  const cloud = (await makeTestBundle({ dir: join(WORK, 'busybox-cloud-bzimage'), kernel: 'cloud-bzimage' }))!;
  assert.is(cloud.manifest.kernel.kind, 'debian-cloud');
  const dir = join(WORK, 'vol-no9p');
  mkdirSync(dir, { recursive: true });
  // No QEMU to find: had the backend been asked to prepare a VM, this would be 125 with the apt hint.
  const r = await boot([...tcg, '-v', `${dir}:/data`, cloud.dir, '--', 'true'], { env: { HYPERBUILD_QEMU: '/nonexistent/qemu' } });
  timings.push({ what: '-v refused on the cloud kernel (no VM)', ms: r.ms });
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, /--volume: the bundle's kernel \(the Debian cloud kernel[^)]*\) has no 9p, so it cannot mount host directories/);
  assert.match(r.stderr, /^hint: rebuild the bundle with the HyperKernel/m);
});

when(ok, 'microvm: the PVH vmlinux boots on -M microvm (with tsc_early_khz under TCG)', async () => {
  const micro = (await makeTestBundle({ dir: join(WORK, 'busybox-cloud-vmlinux'), kernel: 'cloud-vmlinux' }))!;
  const report = join(WORK, 'report-microvm.json');
  const r = await boot([...tcg, '--report', report, '--verbose', micro.dir, '--', 'sh', '-c', 'echo on microvm; exit 5']);
  assert.is(r.code, 5, r.stderr.slice(-2000));
  assert.is(r.stdout, 'on microvm\n');
  const json = JSON.parse(readFileSync(report, 'utf8')) as { machine: string; bootMs: number; durationMs: number; exitCode: number };
  assert.is(json.exitCode, 5);
  assert.is(json.machine, 'microvm');
  assert.match(r.stderr, /-M microvm,x-option-roms=off/);
  assert.match(r.stderr, /tsc_early_khz=\d+/);
  timings.push({ what: `microvm cloud kernel (bootMs to H ${json.bootMs})`, ms: json.durationMs });
});

const REPO = new URL('../', import.meta.url).pathname;
const canBuild = haveQemu && existsSync(join(REPO, 'dist/hyperbuild.js')) && existsSync(join(REPO, 'fixtures/out/busybox/index.json'));
when(canBuild, 'a bundle made by `hyperbuild build` boots (image cmd overridden)', async () => {
  const out = join(WORK, 'built-busybox');
  const built = hyperbuild(['build', 'oci:fixtures/out/busybox:latest', '-o', out]);
  assert.is(built.status, 0, built.stderr);
  const r = await boot([...tcg, out, '--', 'sh', '-c', 'echo built; test -x /.hyperstart/init']);
  assert.is(r.code, 0, r.stderr.slice(-2000));
  assert.is(r.stdout, 'built\n');
});

when(ok, '--network none, --cpus 2, -m 200m reach the guest', async () => {
  const report = join(WORK, 'report-shape.json');
  const r = await boot([...tcg, '--network', 'none', '--cpus', '2', '-m', '200m', '--report', report, bundle!.dir, '--', 'sh', '-c',
    'ls /sys/class/net | tr "\\n" " "; echo; nproc; awk "/MemTotal/ {print (\\$2 > 150000 && \\$2 < 204800)}" /proc/meminfo']);
  assert.is(r.code, 0, r.stderr);
  const [nets, cpus, mem] = r.stdout.split('\n');
  assert.is(nets.trim(), 'lo');
  assert.is(cpus, '2');
  assert.is(mem, '1');
  assert.is(r.stdout.split('\n').length, 4, 'nothing after the app\'s three lines');
  assert.is((JSON.parse(readFileSync(report, 'utf8')) as { memoryMiB: number }).memoryMiB, 200);
});

when(ok, 'command not found → 127 (via --entrypoint)', async () => {
  const r = await boot([...tcg, '--entrypoint', '/no/such/cmd', bundle!.dir]);
  assert.is(r.code, 127, r.stderr);
});

when(ok, 'not executable → 126; killed by a signal → 128+N; plain failure → 1', async () => {
  const r = await boot([...tcg, bundle!.dir, '--', '/www/index.html']);
  assert.is(r.code, 126, r.stderr);
  const s = await boot([...tcg, bundle!.dir, '--', 'sh', '-c', 'kill -TERM $$']);
  assert.is(s.code, 143, s.stderr);
  const f = await boot([...tcg, bundle!.dir, '--', 'false']);
  assert.is(f.code, 1, f.stderr);
});

when(ok, '-i forwards stdin, EOF ends it', async () => {
  const r = await boot([...tcg, '-i', bundle!.dir, '--', 'sh', '-c', 'tr a-z A-Z; echo done'], { input: 'hello stdin\n' });
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'HELLO STDIN\ndone\n');
});



when(ok, '-p: busybox httpd in the guest answers on the host port; a taken port is refused before boot', async () => {
  const port = await freePort();
  const probe = fetchThenTerminate(port);
  const r = await boot([...tcg, '-p', `${port}:80`, '--stop-timeout', '5', bundle!.dir, '--', 'sh', '-c', 'httpd -p 80 -h /www && echo serving && sleep 60'], { onStdout: probe.onStdout });
  assert.is(probe.fetched(), 'hello from the guest\n');
  // SIGTERM is forwarded to the app's process group: sleep dies, sh exits 143.
  assert.is(r.code, 143, r.stderr);

  const blocker = createServer();
  await new Promise<void>((res) => blocker.listen(port, '127.0.0.1', res));
  const taken = await boot([...tcg, '-p', `${port}:80`, bundle!.dir]);
  blocker.close();
  assert.is(taken.code, 125);
  assert.match(taken.stderr, new RegExp(`host port ${port}/tcp on 127.0.0.1 is not available \\(EADDRINUSE\\)`));
});

when(ok, 'SIGINT is forwarded to the app (trap runs, its exit code wins)', async () => {
  let sent = false;
  const r = await boot([...tcg, bundle!.dir, '--', 'sh', '-c', 'trap "echo got INT; exit 7" INT; echo ready; while :; do sleep 1; done'], {
    onStdout: (s, pid) => {
      if (!sent && s.includes('ready')) { sent = true; process.kill(pid, 'SIGINT'); }
    },
  });
  assert.is(r.code, 7, r.stderr);
  assert.is(r.stdout, 'ready\ngot INT\n');
});

when(ok, 'a guest kernel panic → 125 with the last console lines', async () => {
  // The HyperKernel has no sysrq; an init that does not exist panics every kernel.
  const broken = join(WORK, 'panics');
  const m = bundle!.manifest;
  const files = bundleFileList(m).map((f) => ({ name: f.name, from: join(bundle!.dir, f.name) }));
  await writeBundle(broken, files, { ...m, cmdline: 'rdinit=/no/such/init init=/no/such/init panic=-1' }, 'bundle');
  const r = await boot([...tcg, broken]);
  assert.is(r.code, 125, r.stderr);
  assert.match(r.stderr, /the VM stopped before the app exited/);
  assert.match(r.stderr, /last console lines:/);
  assert.match(r.stderr, /Kernel panic/i);
});

when(ok, 'kill -9 of hyperbuild → QEMU is gone within a few seconds', async () => {
  let qemu: number | undefined;
  let killedAt = 0;
  const r = await boot([...tcg, bundle!.dir, '--', 'sh', '-c', 'echo ready; sleep 100'], {
    onStdout: (s, pid) => {
      if (killedAt || !s.includes('ready')) return;
      const found = spawnSync('pgrep', ['-f', `^qemu-system.*${bundle!.dir}/`]).stdout.toString().trim().split('\n').map(Number).filter(Boolean);
      qemu = found.find((p) => !qemuBefore.includes(p));
      killedAt = Date.now();
      process.kill(pid, 'SIGKILL');
    },
  });
  assert.is(r.code, null);
  assert.ok(qemu, 'found the QEMU process');
  let alive = true;
  while (alive && Date.now() - killedAt < 5000) {
    try { process.kill(qemu!, 0); await new Promise((res) => setTimeout(res, 100)); } catch { alive = false; }
  }
  assert.not.ok(alive, `QEMU ${qemu} survived hyperbuild's SIGKILL`);
  timings.push({ what: 'QEMU gone after kill -9', ms: Date.now() - killedAt });
});

when(ok && hasNinePee, '-v: a volume is read and written, :ro is read-only', async () => {
  const dir = join(WORK, 'vol');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  writeFileSync(join(dir, 'in.txt'), 'from host\n');
  const ro = join(WORK, 'vol-ro');
  mkdirSync(ro, { recursive: true });
  const r = await boot([...tcg, '-v', `${dir}:/data`, '-v', `${ro}:/ro:ro`, bundle!.dir, '--', 'sh', '-c',
    'cat /data/in.txt; echo from guest > /data/out.txt; touch /ro/x 2>/dev/null && echo ro-writable || echo ro-refused']);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, 'from host\nro-refused\n');
  assert.is(readFileSync(join(dir, 'out.txt'), 'utf8'), 'from guest\n');
});

when(haveQemu, 'CLI errors: missing bundle → 2, unknown flag → 2, tampered bundle → 2, no QEMU → 125 + apt hint, missing volume path → 2', async () => {
  const missing = await boot([join(WORK, 'no-such-bundle')]);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /is not a bundle/);
  const unknown = await boot(['--no-such-flag', bundle?.dir ?? WORK]);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /Nonexistent flag: --no-such-flag/);
  if (bundle) {
    const noQemu = await boot([bundle.dir], { env: { HYPERBUILD_QEMU: '/nonexistent/qemu' } });
    assert.is(noQemu.code, 125);
    assert.match(noQemu.stderr, /^hint: apt-get install qemu-system-x86$/m);
    const vol = await boot(['-v', '/no/such/dir:/x', bundle.dir]);
    assert.is(vol.code, 2);
    assert.match(vol.stderr, /host path \/no\/such\/dir does not exist/);
    const copy = join(WORK, 'tampered');
    rmSync(copy, { recursive: true, force: true });
    execFileSync('cp', ['-r', bundle.dir, copy]);
    const initrd = join(copy, bundle.manifest.initramfs.name);
    const bytes = readFileSync(initrd);
    bytes[bytes.length - 100] ^= 0xff;
    chmodSync(initrd, 0o644);
    writeFileSync(initrd, bytes);
    const tampered = await boot([copy]);
    assert.is(tampered.code, 2);
    assert.match(tampered.stderr, /does not match bundle.json \(sha256 differs\)/);
  }
});

test('no QEMU processes left behind', async () => {
  await new Promise((r) => setTimeout(r, 300));
  if (timings.length) {
    process.stderr.write(`\nboot timings (${bundle?.kernel.kind}, TCG):\n${timings.map((t) => `  ${t.what}: ${t.ms} ms`).join('\n')}\n`);
  }
  const leftover = qemuPids().filter((p) => !qemuBefore.includes(p));
  assert.equal(leftover, []);
  rmSync(WORK, { recursive: true, force: true });
});

test.run();
