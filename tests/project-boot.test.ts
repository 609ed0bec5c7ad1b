/**
 * `hyperbuild boot NAME`: a bundle of hyperbuild.yaml booted with its run
 * defaults (env, cpus, memory), the command line's flags on top; a bad
 * default refused before any VM with the file, line and key; an unbuilt
 * bundle refused with a hint. Boots a real VM (HyperKernel, QEMU).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, FIXTURES } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'hb-project-boot-'));
const cache = join(work, 'cache');
test.after(() => rmSync(work, { recursive: true, force: true }));
cpSync(join(FIXTURES, 'busybox'), join(work, 'image'), { recursive: true });
mkdirSync(join(work, 'site'));
writeFileSync(join(work, 'site', 'index.html'), 'shared from the host\n');

writeFileSync(
  join(work, 'hyperbuild.yaml'),
  `bundles:
  app:
    image: oci:image:latest
    run:
      env: { GREETING: hello, MODE: file }
      volumes: ["./site:/srv:ro"]
      memory: 112m
      cpus: 2
  unbuilt:
    image: oci:image:latest
`,
);
writeFileSync(join(work, 'bad.yaml'), 'bundles:\n  app:\n    image: oci:image:latest\n    run:\n      ports: ["80"]\n');

function hb(args: string[]) {
  const r = spawnSync(BIN, args, { cwd: work, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('setup: build the bundle by name', () => {
  const r = hb(['build', 'app', '--cache-dir', cache]);
  assert.is(r.status, 0, r.stderr);
});

test('boot NAME: the run defaults apply, flags add to and override them', () => {
  const r = hb(['boot', 'app', '-e', 'MODE=flag', '--cache-dir', cache, '--json', '--', 'sh', '-c', 'echo "$GREETING $MODE $(cat /srv/index.html)"; exit 3']);
  assert.is(r.status, 3, r.stderr);
  const [appLine, ...json] = r.stdout.split('\n');
  assert.is(appLine, 'hello flag shared from the host');
  const result = JSON.parse(json.join('\n'));
  assert.is(result.cpus, 2);
  assert.is(result.memoryMiB, 112);
  const flagged = hb(['boot', 'app', '--cpus', '1', '-m', '96m', '--cache-dir', cache, '--json', '--', 'false']);
  assert.is(flagged.status, 1, flagged.stderr);
  const r2 = JSON.parse(flagged.stdout);
  assert.equal([r2.cpus, r2.memoryMiB], [1, 96], 'flags beat the file');
});

test('a bad run default is refused before any VM, naming file, line and key', () => {
  const r = hb(['boot', 'app', '-f', 'bad.yaml', '--cache-dir', cache]);
  assert.is(r.status, 2);
  assert.match(r.stderr, 'hyperbuild: error: bad.yaml:5: bundles.app.run.ports[0]: ');
  assert.match(r.stderr, 'hint: ');
});

test('an unbuilt bundle is refused with the command that builds it', () => {
  const r = hb(['boot', 'unbuilt', '--cache-dir', cache]);
  assert.is(r.status, 2);
  assert.match(r.stderr, "bundle 'unbuilt' is not built");
  assert.match(r.stderr, 'hint: build it first: hyperbuild build unbuilt');
});

test.run();
