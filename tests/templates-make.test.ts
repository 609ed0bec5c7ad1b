/**
 * Every template in templates/, end to end as a user runs it: `hyperbuild
 * init --template NAME DIR` (never over existing files), `make` builds, a
 * second `make` prints nothing and changes nothing, a touched input makes
 * make run again (and then rest), `make run` boots the bundle with the
 * project's run defaults; the registry template's `make push` publishes to
 * a local registry and a second `make push` does nothing. Needs make, QEMU,
 * the HyperKernel, docker-registry and (buildah template) buildah.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, FIXTURES, ROOT } from './helpers/cli.ts';
import { startRegistry, type RegistryServer } from './helpers/registry-server.ts';

const work = mkdtempSync(join(tmpdir(), 'hb-templates-'));
const hyperstart = join(work, 'hyperstart');
copyFileSync(join(ROOT, 'initramfs', 'hyperstart', 'out', 'hyperstart'), hyperstart);
let registry: RegistryServer | undefined;
test.after(async () => {
  await registry?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** A user's shell: not inside another make, blob cache private, the machine's HyperKernel. */
const env: NodeJS.ProcessEnv = { ...process.env };
for (const k of ['MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES', 'MAKE_TERMOUT', 'MAKE_TERMERR']) delete env[k];
Object.assign(env, {
  HYPERBUILD_KERNEL_CACHE_DIR: process.env.HYPERBUILD_KERNEL_CACHE_DIR || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hyperbuild'),
  XDG_CACHE_HOME: join(work, 'xdg-cache'),
  HYPERSTART_BINARY: hyperstart,
});

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, stdout: r.stdout };
}
const make = (dir: string, ...targets: string[]) => run('make', [`HYPERBUILD=${BIN}`, ...targets], dir);

/** Every file below `dir` (except buildah's store) with its mtime. */
function mtimes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const path = join(e.parentPath, e.name);
    if (e.isFile() && !path.includes('/build/containers')) out[path] = statSync(path).mtimeMs;
  }
  return out;
}

function init(template: string): string {
  const dir = join(work, template);
  const r = run(BIN, ['init', '--template', template, dir], work);
  assert.is(r.status, 0, r.out);
  assert.match(r.out, `created ${dir}/Makefile`);
  const again = run(BIN, ['init', '--template', template, dir], work);
  assert.is(again.status, 2, 'a second init refuses');
  assert.match(again.out, 'init never overwrites a file');
  return dir;
}

/** A local image for the templates that take one: the fixture layout, its `hello` tag. */
function useFixtureImage(dir: string): void {
  cpSync(join(FIXTURES, 'busybox'), join(dir, 'image'), { recursive: true });
  const file = join(dir, 'hyperbuild.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('image: oci:image:latest', 'image: oci:image:hello'));
}

/** make; make again (silent, nothing changes); touch an input, make (runs), make (silent). */
function makeTwiceAndAfterTouch(dir: string, input: string): void {
  const first = make(dir);
  assert.is(first.status, 0, first.out);
  assert.match(first.out, 'built: out/app');
  const before = mtimes(dir);
  const second = make(dir);
  assert.equal([second.status, second.out], [0, ''], 'a second make prints nothing');
  assert.equal(mtimes(dir), before, 'and changes no file');
  const now = Date.now() / 1000;
  utimesSync(join(dir, input), now, now);
  const third = make(dir);
  assert.is(third.status, 0, third.out);
  assert.match(third.out, 'out/app (', `touching ${input} runs the build`);
  const fourth = make(dir);
  assert.equal([fourth.status, fourth.out], [0, ''], 'and then make rests again');
}

test('templates/ holds the three documented templates', () => {
  assert.equal(readdirSync(join(ROOT, 'templates')).sort(), ['buildah', 'plain', 'registry']);
});

test('plain: make, make again, touch, make run', () => {
  const dir = init('plain');
  useFixtureImage(dir);
  makeTwiceAndAfterTouch(dir, 'image/index.json');
  const r = make(dir, 'run');
  assert.is(r.status, 0, r.out);
  assert.match(r.stdout, /Hello from hyperbuild: Linux 6\.1\.\S+, running as root in \//);
});

test('registry: make push publishes to the publish reference; a second make push does nothing', async () => {
  registry = await startRegistry({ kind: 'open' });
  const dir = init('registry');
  useFixtureImage(dir);
  const ref = `${registry.host}/demo/app-vm:1`;
  const file = join(dir, 'hyperbuild.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('registry.example.com/team/app-vm:latest', ref));
  makeTwiceAndAfterTouch(dir, 'image/index.json');
  const push = make(dir, 'push');
  assert.is(push.status, 0, push.out);
  const digest = readFileSync(join(dir, 'out/app.pushed'), 'utf8').trim();
  assert.match(digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal([make(dir, 'push').status, make(dir, 'push').out], [0, ''], 'a second make push prints nothing');
  const pulled = join(work, 'pulled');
  const pull = run(BIN, ['pull', ref, '-o', pulled], work);
  assert.is(pull.status, 0, pull.out);
  assert.is(readFileSync(join(pulled, 'bundle.json'), 'utf8'), readFileSync(join(dir, 'out/app/bundle.json'), 'utf8'));
});

test('buildah: the image is built from the Containerfile first; run defaults reach the app', () => {
  const dir = init('buildah');
  makeTwiceAndAfterTouch(dir, 'app/hello.sh');
  const file = join(dir, 'hyperbuild.yaml');
  writeFileSync(file, readFileSync(file, 'utf8').replace('GREETING: hello', 'GREETING: bonjour'));
  const r = make(dir, 'run');
  assert.is(r.status, 0, r.out);
  assert.match(r.stdout, /bonjour from a buildah-built image, in a VM: Linux 6\.1\./);
});

test.run();
