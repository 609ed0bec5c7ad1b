/**
 * `boot` through the lean CLI (toolchain/cli/lean/, no oclif on the boot
 * path: part of the lean host path of the VM-template work) behaves exactly
 * like the full oclif CLI: same stdout, stderr and exit status, warm and cold,
 * for errors too; `--` and `--no-template` are understood, the rest is left to oclif.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLeanArgv, type LeanCommandSpec } from '../toolchain/cli/lean/argv.ts';
import { makeTestBundle } from './helpers/boot-bundle.ts';
import { ROOT, hyperbuild, type CliResult } from './helpers/cli.ts';
import { tempDir } from './helpers/places.ts';

const work = tempDir('boot-lean');
const cache = join(work, 'cache');
const haveQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
const bundle = haveQemu ? await makeTestBundle({ dir: join(work, 'busybox'), kernel: 'best' }) : undefined;

const fullEntry = join(work, 'full-cli.mjs');
writeFileSync(fullEntry, `const { main } = await import(${JSON.stringify(join(ROOT, 'dist', 'hyperbuild.js'))});\nawait main();\n`);
function full(args: string[]): CliResult {
  const r = spawnSync(process.execPath, [fullEntry, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const LEFT_TO_OCLIF = 'the lean CLI leaves this command line to oclif';

const common = ['--accel', 'tcg', '--timeout', '120s', '--cache-dir', cache];
const script = ['--', 'sh', '-c', 'echo out; echo err >&2; exit 3'];

(bundle ? test : test.skip)('same as oclif: a cold boot, a warm boot, with -e/-w overrides and --', () => {
  // The first boot makes the template; after it, both CLIs start warm from it.
  assert.is(hyperbuild(['boot', ...common, bundle!.dir]).status, 0);
  for (const args of [
    ['boot', ...common, '--no-template', bundle!.dir, ...script],
    ['boot', ...common, bundle!.dir, ...script],
    ['boot', ...common, '-e', 'A=1', '-w', '/tmp', bundle!.dir, '--', 'sh', '-c', 'echo "$A $(pwd)"'],
  ]) {
    const lean = hyperbuild([...args, '--debug']);
    const oclif = full([...args, '--debug']);
    assert.not.match(lean.stderr, LEFT_TO_OCLIF);
    assert.equal(lean, oclif, args.join(' '));
  }
});

test('same as oclif: a missing bundle (exit 2), an unknown flag (left to oclif), a bad --cpus', () => {
  for (const args of [
    ['boot', '--cache-dir', cache, join(work, 'no-such-bundle')],
    ['boot', '--frobnicate', join(work, 'no-such-bundle')],
    ['boot', '--cpus', '0', join(work, 'no-such-bundle')],
  ]) assert.equal(hyperbuild(args), full(args), args.join(' '));
  assert.match(hyperbuild(['boot', '--debug', '--frobnicate', work]).stderr, `${LEFT_TO_OCLIF} (flag --frobnicate)`);
});

test('parser: --no-NAME for allowNo booleans only', () => {
  const spec: LeanCommandSpec = { args: {}, flags: { template: { type: 'boolean', allowNo: true, default: true }, verbose: { type: 'boolean' } } };
  const flags = (argv: string[]) => {
    const r = parseLeanArgv(argv, spec, {});
    return 'declined' in r ? r.declined : r.flags;
  };
  assert.equal(flags([]), { template: true });
  assert.equal(flags(['--no-template']), { template: false });
  assert.equal(flags(['--template']), { template: true });
  assert.is(flags(['--no-verbose']), 'flag --no-verbose');
  assert.is(flags(['--template', '--no-template']), 'boolean --no-template');
});

test.run();
