/**
 * The jailed VMM, on a real QEMU (TCG): while the app runs, /proc/PID/status
 * of the QEMU process shows the seccomp filter (`Seccomp: 2`), no capabilities
 * and, when hyperbuild is root, the VM user's non-zero uid; its socket
 * directory is 0700 and owned by that user. A bundle inside a directory the
 * VM user cannot enter still boots (descriptors), a 0600 kernel too (a copy),
 * and a volume keeps host ownership as `-v` promises (proxy helper). Nothing
 * (QEMU, proxy helper) is left behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JAIL_USER } from '../toolchain/boot/jail.ts';
import { makeTestBundle } from './helpers/boot-bundle.ts';
import { runCli } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';

const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
// 0700: the VM user cannot enter it, so QEMU can only reach the bundle through hyperbuild's descriptors.
const work = tempDir('jail');
const bundle = haveQemu ? await makeTestBundle({ dir: join(work, 'bundle'), kernel: 'best' }) : undefined;
const root = process.geteuid?.() === 0;
const boot = ['boot', '--accel', 'tcg', '--timeout', '120s'];

/** Live processes whose argv mentions `needle` (this suite's paths only). */
function pidsWith(needle: string): number[] {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).flatMap((n) => {
    try {
      return readFileSync(`/proc/${n}/cmdline`, 'latin1').split('\0').some((a) => a.includes(needle)) ? [Number(n)] : [];
    } catch { return []; }
  });
}

function statusField(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return (line ?? '').slice(field.length + 1).trim();
}

interface Seen { uid: string; seccomp: string; capEff: string; noNewPrivs: string; sockDir: { mode: number; uid: number } }

const when = (cond: boolean, name: string, fn: () => Promise<void>) =>
  test(cond ? name : `${name} (skipped: ${haveQemu ? 'no kernel' : 'no qemu'})`, cond ? fn : () => {});

when(!!bundle, 'QEMU runs under seccomp, without capabilities, as the VM user when root; its sockets in a 0700 directory of that user', async () => {
  let seen: Seen | undefined;
  const r = await runCli([...boot, bundle!.dir, '--', 'sh', '-c', 'echo ready; sleep 2'], {
    from: 'source',
    onStdout: (s) => {
      if (seen || !s.includes('ready')) return;
      const qemu = pidsWith(join(bundle!.dir, 'vmlinux')).find((p) => readFileSync(`/proc/${p}/comm`, 'utf8').startsWith('qemu-system'));
      assert.ok(qemu, 'found the QEMU process');
      const sock = readFileSync(`/proc/${qemu}/cmdline`, 'latin1').split('\0').find((a) => a.includes('ctl.sock'))!;
      const dir = statSync(sock.replace(/^.*path=/, '').replace(/\/ctl\.sock.*$/, ''));
      seen = {
        uid: statusField(qemu!, 'Uid'), seccomp: statusField(qemu!, 'Seccomp'), capEff: statusField(qemu!, 'CapEff'),
        noNewPrivs: statusField(qemu!, 'NoNewPrivs'), sockDir: { mode: dir.mode & 0o777, uid: dir.uid },
      };
    },
  });
  assert.is(r.status, 0, r.stderr);
  assert.ok(seen, 'QEMU was inspected while the app ran');
  assert.is(seen!.seccomp, '2', 'seccomp filter mode');
  assert.is(seen!.capEff, '0000000000000000');
  assert.is(seen!.noNewPrivs, '1', 'seccomp sets no_new_privs');
  const uids = seen!.uid.split(/\s+/).map(Number);
  const expected = root ? Number(spawnSync('id', ['-u', JAIL_USER], { encoding: 'utf8' }).stdout) : process.getuid!();
  assert.equal(uids, [expected, expected, expected, expected], 'real, effective, saved and fs uid');
  if (root) assert.ok(expected > 0, 'the VM user is not root');
  assert.is(seen!.sockDir.mode, 0o700);
  assert.is(seen!.sockDir.uid, expected);
});

when(!!bundle && root, 'a kernel only root may read (0600) still boots: QEMU gets a copy it owns in its jail directory', async () => {
  const copy = join(work, 'private');
  cpSync(bundle!.dir, copy, { recursive: true });
  chmodSync(join(copy, 'vmlinux'), 0o600);
  const r = await runCli([...boot, copy, '--', 'sh', '-c', 'exit 5'], { from: 'source' });
  assert.is(r.status, 5, r.stderr);
});

when(!!bundle && bundle.kernel.kind === 'hyperkernel', '-v under the jail: host owners and modes as they are, guest chown honoured, :ro refused, nothing left running', async () => {
  const vol = join(work, 'vol');
  mkdirSync(vol, { mode: 0o700 });
  writeFileSync(join(vol, 'secret'), 'root only\n', { mode: 0o600 });
  const r = await runCli([...boot, '-v', `${vol}:/data`, '-v', `${work}:/ro:ro`, bundle!.dir, '--', 'sh', '-c',
    'cat /data/secret; echo w > /data/new; echo x > /data/theirs; chown 1234:4321 /data/theirs; stat -c "%u:%g %a" /data/secret; touch /ro/x 2>/dev/null || echo ro-refused'], { from: 'source' });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, 'root only\n0:0 600\nro-refused\n');
  const owner = (f: string) => { const s = statSync(join(vol, f)); return `${s.uid}:${s.gid}`; };
  const me = `${process.getuid!()}:${process.getgid!()}`;
  assert.is(owner('new'), root ? '0:0' : me, 'a file the guest\'s root creates belongs to host root (as with docker -v)');
  if (root) assert.is(owner('theirs'), '1234:4321', 'guest chown reaches the host');
  assert.equal(pidsWith(vol), [], 'no proxy helper or QEMU left');
});

test('nothing of this suite left running', () => {
  assert.equal(pidsWith(work), []);
});

test.run();
