/**
 * The lean CLI (toolchain/cli/lean/): `hyperbuild build` without oclif must
 * behave exactly like the full oclif CLI — same stdout, stderr and exit
 * status — and hand every command line it does not handle to oclif.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseLeanArgv, type LeanCommandSpec } from '../toolchain/cli/lean/argv.ts';
import { FIXTURES, ROOT, hyperbuild, type CliResult } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'hb-lean-'));
const cache = join(work, 'cache');
const out = join(work, 'hello');
const image = `oci:${FIXTURES}/busybox:hello`;
test.after(() => rmSync(work, { recursive: true, force: true }));
// A private copy of HyperStart: a rebuild of the shared one between two runs would make them differ.
const hyperstart = join(work, 'hyperstart');
copyFileSync(join(ROOT, 'initramfs', 'hyperstart', 'out', 'hyperstart'), hyperstart);
const env = { HYPERSTART_BINARY: hyperstart };

// The full CLI, started without bin/hyperbuild's dispatch to the lean one.
const fullEntry = join(work, 'full-cli.mjs');
writeFileSync(fullEntry, `const { main } = await import(${JSON.stringify(join(ROOT, 'dist', 'hyperbuild.js'))});\nawait main();\n`);
function full(args: string[]): CliResult {
  const r = spawnSync(process.execPath, [fullEntry, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Durations differ from run to run; nothing else may. */
const masked = (r: CliResult) => ({
  status: r.status,
  stdout: r.stdout.replace(/in \d+\.\d+ s/g, 'in N s').replace(/"durationMs": \d+/g, '"durationMs": N'),
  stderr: r.stderr,
});

const LEFT_TO_OCLIF = 'the lean CLI leaves this command line to oclif';

test('setup: the bundle exists, so the following builds are no-ops', () => {
  const r = hyperbuild(['build', image, '-o', out, '--cache-dir', cache], { env });
  assert.is(r.status, 0, r.stderr);
});

const SAME_AS_OCLIF: [string, string[]][] = [
  ['no-op build', ['build', image, '-o', out, '--cache-dir', cache]],
  ['no-op build --json', ['build', image, '-o', out, '--cache-dir', cache, '--json']],
  ['flags in another order, --flag=value', ['build', `--cache-dir=${cache}`, '--compression', 'auto', image, '--output', out]],
  ['bad input (exit 2, one line + hint)', ['build', `oci:${FIXTURES}/busybox:no-such-tag`, '-o', out, '--cache-dir', cache]],
  ['bad input under --json', ['build', `oci:${FIXTURES}/busybox:no-such-tag`, '-o', out, '--cache-dir', cache, '--json']],
  ['an option oclif refuses', ['build', image, '-o', out, '--compression', 'brotli']],
  ['an unknown flag', ['build', image, '-o', out, '--frobnicate']],
  ['a missing argument', ['build', '-o', out]],
  ['help', ['build', '--help']],
];

for (const [name, args] of SAME_AS_OCLIF) {
  test(`same as oclif: ${name}`, () => {
    assert.equal(masked(hyperbuild(args, { env })), masked(full(args)));
  });
}

test('the plain no-op runs in the lean CLI; an unusual command line goes to oclif', () => {
  const lean = hyperbuild(['build', image, '-o', out, '--cache-dir', cache, '--debug'], { env });
  assert.is(lean.status, 0, lean.stderr);
  assert.not.match(lean.stderr, LEFT_TO_OCLIF);
  const handedOver = hyperbuild(['build', image, '-o', out, '--cache-dir', cache, '--debug', '--frobnicate'], { env });
  assert.is(handedOver.status, 2);
  assert.match(handedOver.stderr, `${LEFT_TO_OCLIF} (flag --frobnicate)`);
});

const SPEC: LeanCommandSpec = {
  args: { image: { required: true } },
  flags: {
    output: { type: 'option', char: 'o', required: true },
    compression: { type: 'option', options: ['lz4', 'gzip'], default: 'lz4' },
    'aci-path': { type: 'option', multiple: true },
    env: { type: 'option', multiple: true, nonGreedy: true },
    cache: { type: 'option', env: 'LEAN_TEST_CACHE' },
    json: { type: 'boolean' },
  },
};

test('parser: values, defaults, environment and repeated flags', () => {
  const r = parseLeanArgv(['img', '-o', 'out', '--aci-path', 'a', '--aci-path=b', '--env', 'X=1', '--json'], SPEC, { LEAN_TEST_CACHE: '/c' });
  assert.ok(!('declined' in r));
  if ('declined' in r) return;
  assert.equal(r.args, { image: 'img' });
  assert.equal(r.flags, { output: 'out', compression: 'lz4', 'aci-path': ['a', 'b'], env: ['X=1'], cache: '/c', json: true });
  assert.is(r.metadata.flags.compression?.setFromDefault, true);
  assert.is(r.metadata.flags.output, undefined);
});

test('parser: declines what oclif must decide', () => {
  const declined = (argv: string[]) => {
    const r = parseLeanArgv(argv, SPEC, {});
    return 'declined' in r ? r.declined : undefined;
  };
  assert.ok(declined(['img']), 'required flag missing');
  assert.ok(declined(['-o', 'out']), 'required argument missing');
  assert.ok(declined(['img', 'extra', '-o', 'out']), 'too many arguments');
  assert.ok(declined(['img', '-o', 'out', '--compression', 'zip']), 'not one of the options');
  assert.ok(declined(['img', '-o', 'out', '--help']), 'help');
  assert.ok(declined(['img', '-o', 'out', '--', 'x']), '--');
  assert.ok(declined(['img', '-o', '--json']), 'a value that looks like a flag');
  assert.ok(declined(['-oout', 'img']), 'joined short flag');
  assert.ok(declined(['--aci-path', 'a', 'img', '-o', 'out']), 'greedy multiple flag followed by a word');
  assert.ok(declined(['img', '-o', 'a', '-o', 'b']), 'a single-valued flag twice');
  assert.is(declined(['--env', 'A=1', 'img', '-o', 'out']), undefined, 'non-greedy multiple flag');
});

test.run();
