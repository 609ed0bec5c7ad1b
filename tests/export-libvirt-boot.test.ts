/**
 * The libvirt export booted for real: `virsh create web.xml` on the tests'
 * own private session-mode libvirtd (helpers/libvirtd.ts), nothing of
 * hyperbuild's in the loop. The overrides baked in at export time (-e, the
 * command after --) must run, the serial console file the XML names must
 * hold the app's output and HyperStart's `hyperstart: exit CODE` line, and
 * the guest's power-off must end the domain (<on_poweroff>destroy). At the
 * end no domain, no QEMU of this daemon and no daemon are left.
 *
 * As root the private daemon (so its QEMU) runs as the VM user, not as the
 * user who exported: like any libvirtd whose user differs from the files'
 * owner, it must be able to reach the kernel and initrd and create the
 * console log, so the work directory is traversable and the export directory
 * belongs to the daemon's user. The XML itself needs nothing for this.
 * Skipped when libvirtd, QEMU or the fixtures are missing.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ensureJailUser } from '../toolchain/boot/jail.ts';
import { FIXTURES, hyperbuild } from './helpers/cli.ts';
import { haveLibvirt, startLibvirtd } from './helpers/libvirtd.ts';
import { tempDir } from './helpers/places.ts';

const EXPECTED_CODE = 3;
const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const haveFixtures = existsSync(join(FIXTURES, 'busybox'));
const ok = haveQemu && haveFixtures && haveLibvirt();
const why = !haveQemu ? 'no qemu' : !haveFixtures ? 'no fixtures (make fixtures)' : 'no libvirtd';

/** Processes that belong to a private daemon: libvirtd running in its directory, QEMU naming it in its argv. */
function daemonProcesses(dir: string): { libvirtd: number[]; qemu: number[] } {
  const found = { libvirtd: [] as number[], qemu: [] as number[] };
  for (const n of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const comm = readFileSync(`/proc/${n}/comm`, 'utf8').trim();
      if (comm === 'libvirtd' && readlinkSync(`/proc/${n}/cwd`) === dir) found.libvirtd.push(Number(n));
      if (comm.startsWith('qemu-system') && readFileSync(`/proc/${n}/cmdline`, 'latin1').includes(dir)) found.qemu.push(Number(n));
    } catch { /* exited while we looked, or a zombie */ }
  }
  return found;
}

test(ok ? 'virsh create of the export: the overrides run, the console file has the output and the exit line, the domain ends' : `virsh create of the export (skipped: ${why})`, async () => {
  if (!ok) return;
  const work = tempDir('export-libvirt');
  chmodSync(work, 0o755);
  const bundle = join(work, 'hello');
  const b = hyperbuild(['build', 'oci:fixtures/out/busybox:hello', '-o', bundle], { from: 'source' });
  assert.is(b.status, 0, b.stderr);
  const out = join(work, 'export');
  mkdirSync(out);
  if (process.geteuid?.() === 0) {
    const id = ensureJailUser();
    chownSync(out, id.uid, id.gid);
  }
  const xml = join(out, 'web.xml');
  const e = hyperbuild(['export', bundle, '--format', 'libvirt', '--accel', 'tcg', '--name', 'export-boot', '-o', xml,
    '-e', 'FOO=bar', '--', 'sh', '-c', 'echo $FOO; exit 3'], { from: 'source' });
  assert.is(e.status, 0, e.stderr);
  const consoleLog = /<serial type='file'>\s*<source path='([^']+)'\/>/.exec(readFileSync(xml, 'utf8'))?.[1];
  assert.ok(consoleLog, 'the XML names a console file');

  const lv = await startLibvirtd();
  assert.ok(lv, 'libvirtd starts');
  let output = '';
  try {
    assert.ok(daemonProcesses(lv!.dir).libvirtd.length > 0, 'the daemon is found by the leftover check');
    const c = spawnSync('virsh', ['-c', lv!.uri, 'create', xml], { encoding: 'utf8', timeout: 60_000 });
    assert.is(c.status, 0, `virsh create: ${c.stderr}\n${lv!.log().slice(-2000)}`);
    assert.equal(lv!.domains(), ['export-boot'], 'the domain runs');
    // Bounded wait for the guest to power off (TCG boot takes seconds here, longer under load); not a timing assertion.
    for (let i = 0; i < 360 && lv!.domains().length; i++) await new Promise((res) => setTimeout(res, 500));
    output = existsSync(consoleLog!) ? readFileSync(consoleLog!, 'utf8').replaceAll('\r\n', '\n') : '';
    assert.equal(lv!.domains(), [], `the power-off ended the domain; console:\n${output.slice(-2000)}`);
    const list = spawnSync('virsh', ['-c', lv!.uri, 'list', '--all', '--name'], { encoding: 'utf8' });
    assert.is(list.status, 0, list.stderr);
    assert.is(list.stdout.trim(), '', 'virsh list --all: no domain left');
  } finally {
    await lv!.stop();
  }
  assert.match(output, /^bar$/m, 'the -e override and the command after -- ran');
  const exit = /^hyperstart: exit (\d+)$/m.exec(output);
  assert.ok(exit, `the exit line is on the console:\n${output.slice(-2000)}`);
  assert.is(Number(exit![1]), EXPECTED_CODE);
  assert.equal(daemonProcesses(lv!.dir), { libvirtd: [], qemu: [] }, 'no daemon and no QEMU left');
});

test.run();
