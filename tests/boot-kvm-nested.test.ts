/**
 * The KVM path, tested on a host without usable KVM: hyperbuild builds an L1
 * VM from this host's files (helpers/kvm-l1.ts: node, QEMU, the built CLI,
 * an L2 bundle, the Debian cloud kernel's kvm modules), boots it under TCG
 * with `-cpu max` (QEMU emulates AMD SVM with nested paging), and the L1
 * script loads `kvm_amd nested=1 npt=1` and runs `hyperbuild boot` of the L2
 * bundle with the default `--accel auto`, which must choose KVM. Under KVM it
 * checks exit codes, a port forward, a boot from a VM template, and the jail
 * (Seccomp 2, the VM user, /dev/kvm's group). One L1 run carries every check
 * (about 1–2 minutes here), printed as `KEY=VALUE` lines the test reads.
 * Run it alone with `node --import tsx tests/run.ts kvm`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { makeTestBundle } from './helpers/boot-bundle.ts';
import { hyperbuild, ROOT } from './helpers/cli.ts';
import { buildL1, haveNestedPrerequisites, ociLayout, stageL1 } from './helpers/kvm-l1.ts';
import { tempDir } from './helpers/places.ts';

/** The L1 guest's program: every L2 check, each result a KEY=VALUE line. */
const L1_SCRIPT = String.raw`#!/bin/sh
insmod /l1/kvm/irqbypass.ko && insmod /l1/kvm/kvm.ko && insmod /l1/kvm/kvm-amd.ko nested=1 npt=1 || { echo INSMOD=failed; exit 90; }
echo "NESTED=$(cat /sys/module/kvm_amd/parameters/nested) NPT=$(cat /sys/module/kvm_amd/parameters/npt)"
# What Debian's udev rule does; the jailed QEMU opens /dev/kvm through this group.
chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
HB="node /opt/hyperbuild/bin/hyperbuild"
B="boot --cache-dir /tmp/hbcache --timeout 120s"
field() { sed -n "s/^ *\"$1\": \"*\([^\",]*\)\"*,*$/\1/p" "$2" | head -1; }

$HB $B --report /tmp/first.json /l2/bundle -- sh -c 'echo from-L2; exit 42' > /tmp/first.out; echo "FIRST_EXIT=$? FIRST_OUT=$(cat /tmp/first.out)"
echo "FIRST_ACCEL=$(field accel /tmp/first.json) FIRST_MACHINE=$(field machine /tmp/first.json) FIRST_RESTORED=$(field restored /tmp/first.json)"
$HB $B --report /tmp/again.json /l2/bundle -- sh -c 'exit 3'; echo "AGAIN_EXIT=$? AGAIN_ACCEL=$(field accel /tmp/again.json) AGAIN_RESTORED=$(field restored /tmp/again.json)"
$HB $B --no-template --report /tmp/cold.json /l2/bundle -- false; echo "COLD_EXIT=$? COLD_ACCEL=$(field accel /tmp/cold.json) COLD_RESTORED=$(field restored /tmp/cold.json)"
$HB $B /l2/bundle -- sh -c 'kill -TERM $$'; echo "SIGTERM_EXIT=$?"
$HB $B --entrypoint /no/such/cmd /l2/bundle; echo "NOTFOUND_EXIT=$?"

$HB $B -p 8080:80 /l2/bundle -- sh -c 'httpd -p 80 -h /www && echo serving && sleep 100' > /tmp/web.out 2>&1 &
web=$!
i=0; got=""
while [ $i -lt 120 ] && ! grep -q serving /tmp/web.out 2>/dev/null; do sleep 0.5; i=$((i+1)); done
while [ $i -lt 120 ] && [ -z "$got" ]; do got=$(wget -q -O - http://127.0.0.1:8080/index.html 2>/dev/null); [ -n "$got" ] || sleep 0.5; i=$((i+1)); done
echo "HTTP=$got"
for p in /proc/[0-9]*; do
  case "$(cat $p/comm 2>/dev/null)" in qemu-system*)
    echo "JAIL_UID=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' $p/status) JAIL_GID=$(sed -n 's/^Gid:[[:space:]]*\([0-9]*\).*/\1/p' $p/status) JAIL_SECCOMP=$(sed -n 's/^Seccomp:[[:space:]]*//p' $p/status)";;
  esac
done
kill -TERM $web; wait $web; echo "WEB_EXIT=$?"
left=0; for p in /proc/[0-9]*; do case "$(cat $p/comm 2>/dev/null)" in qemu-system*) left=$((left+1));; esac; done
echo "QEMU_LEFT=$left"
`;

const work = tempDir('kvm-nested');
const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const haveCli = existsSync(join(ROOT, 'dist/lean/main.js'));
const l2 = haveQemu ? await makeTestBundle({ dir: join(work, 'l2'), kernel: 'hyperkernel' }) : undefined;
const why = !haveQemu ? 'no qemu' : !haveCli ? 'no dist/ (make cli)' : !l2 ? 'no HyperKernel' : !haveNestedPrerequisites() ? 'missing host tools' : '';

/** `KEY=VALUE` pairs of the L1 run's output (several per line, values without spaces). */
function results(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const m of out.matchAll(/([A-Z_]+)=(\S*)/g)) r[m[1]] ??= m[2];
  return r;
}

test(why ? `nested KVM (skipped: ${why})` : 'in an L1 VM under TCG with SVM, hyperbuild boot chooses KVM; exit codes, a port forward, a template boot and the jail under KVM', async () => {
  if (why) return;
  const root = join(work, 'root');
  await stageL1(root, l2!.dir, L1_SCRIPT);
  const built = buildL1(ociLayout(root, join(work, 'oci')), join(work, 'l1'), join(work, 'cache'));
  assert.is(built.status, 0, built.stderr.slice(-2000));
  // L1: TCG with -cpu max (the QEMU backend's choice under TCG), room for an L2 and its template.
  const r = hyperbuild(['boot', '--accel', 'tcg', '-m', '2048', '--network', 'none', '--timeout', '600s', join(work, 'l1'), '--', '/l1/run.sh'], { timeoutMs: 700_000 });
  const out = `${r.stdout}\n${r.stderr.slice(-3000)}`;
  assert.is(r.status, 0, out);
  const v = results(r.stdout);
  assert.equal([v.NESTED, v.NPT], ['1', 'Y'], out);
  assert.equal([v.FIRST_EXIT, v.FIRST_OUT, v.FIRST_ACCEL, v.FIRST_MACHINE], ['42', 'from-L2', 'kvm', 'microvm'], out);
  assert.equal([v.AGAIN_EXIT, v.AGAIN_ACCEL, v.AGAIN_RESTORED], ['3', 'kvm', 'true'], `the second boot starts from the template\n${out}`);
  assert.equal([v.COLD_EXIT, v.COLD_ACCEL, v.COLD_RESTORED], ['1', 'kvm', 'false'], out);
  assert.is(v.SIGTERM_EXIT, '143', out);
  assert.is(v.NOTFOUND_EXIT, '127', out);
  assert.is(v.HTTP, 'hello', `the guest's httpd through -p 8080:80 (first word of its page)\n${out}`);
  assert.equal([v.JAIL_UID, v.JAIL_GID, v.JAIL_SECCOMP], ['999', '994', '2'], `jailed under KVM: hyperbuild-vm with /dev/kvm's group\n${out}`);
  assert.is(v.WEB_EXIT, '143', out);
  assert.is(v.QEMU_LEFT, '0', out);
});

test.run();
