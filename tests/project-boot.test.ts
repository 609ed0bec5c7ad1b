/**
 * `hyperbuild boot NAME`: a bundle of hyperbuild.yaml booted with its run
 * defaults (env, cpus, memory), the command line's flags on top; a bad
 * default refused before any VM with the file, line and key; an unbuilt
 * bundle refused with a hint. `--report FILE` gets the JSON result (or the
 * error) while stdout stays exactly the app's; `--json` is refused. Boots a
 * real VM (HyperKernel, QEMU).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

const report = join(work, 'report.json');
const readReport = () => JSON.parse(readFileSync(report, 'utf8'));

test('boot NAME: the run defaults apply, flags add to and override them; stdout is the app\'s, the result in --report', () => {
  const r = hb(['boot', 'app', '-e', 'MODE=flag', '--cache-dir', cache, '--report', report, '--', 'sh', '-c', 'printf "$GREETING $MODE $(cat /srv/index.html)"; exit 3']);
  assert.is(r.status, 3, r.stderr);
  assert.is(r.stdout, 'hello flag shared from the host', 'byte-exact: no newline added, nothing after it');
  const result = readReport();
  assert.equal([result.exitCode, result.outcome, result.cpus, result.memoryMiB], [3, 'exited', 2, 112]);
  const flagged = hb(['boot', 'app', '--cpus', '1', '-m', '96m', '--cache-dir', cache, '--report', report, '--', 'false']);
  assert.is(flagged.status, 1, flagged.stderr);
  assert.is(flagged.stdout, '');
  assert.equal([readReport().cpus, readReport().memoryMiB], [1, 96], 'flags beat the file');
});

test('--json is refused (it would follow the app\'s output on stdout), pointing to --report', () => {
  const r = hb(['boot', 'app', '--json', '--cache-dir', cache, '--', 'true']);
  assert.is(r.status, 2);
  assert.match(r.stderr, "--json cannot share stdout with the app's output");
  assert.match(r.stderr, 'hint: write the JSON result to a file with --report FILE');
});

test('a bad run default is refused before any VM, naming file, line and key', () => {
  const r = hb(['boot', 'app', '-f', 'bad.yaml', '--cache-dir', cache]);
  assert.is(r.status, 2);
  assert.match(r.stderr, 'hyperbuild: error: bad.yaml:5: bundles.app.run.ports[0]: ');
  assert.match(r.stderr, 'hint: ');
});

test('an unbuilt bundle is refused with the command that builds it; --report gets the error', () => {
  rmSync(report, { force: true });
  const r = hb(['boot', 'unbuilt', '--cache-dir', cache, '--report', report]);
  assert.is(r.status, 2);
  assert.match(r.stderr, "bundle 'unbuilt' is not built");
  assert.match(r.stderr, 'hint: build it first: hyperbuild build unbuilt');
  assert.ok(existsSync(report));
  assert.equal(readReport(), { error: { message: "bundle 'unbuilt' is not built (no out/unbuilt/bundle.json)", hint: 'build it first: hyperbuild build unbuilt (or make)', exitCode: 2 } });
});

test.run();
