/**
 * `hyperbuild build NAME` from hyperbuild.yaml and `--depfile`: the
 * dependency file lists exactly the files the build read; a no-op build
 * changes no file's mtime; a touched input makes the bundle current for make
 * without rebuilding it; a changed input rebuilds; errors keep exit code 2.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BIN, FIXTURES, ROOT } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'hb-depfile-'));
const project = join(work, 'app');
const cache = join(work, 'cache');
const hyperstart = join(work, 'hyperstart');
test.after(() => rmSync(work, { recursive: true, force: true }));

cpSync(join(FIXTURES, 'busybox'), join(project, 'image'), { recursive: true });
copyFileSync(join(ROOT, 'initramfs', 'hyperstart', 'out', 'hyperstart'), hyperstart);

function project_file(extra = ''): void {
  writeFileSync(join(project, 'hyperbuild.yaml'), `bundles:\n  web:\n    image: oci:image:hello\n${extra}  other:\n    image: oci:image:latest\n`);
}

function hb(args: string[], cwd = project) {
  const r = spawnSync(BIN, args, { cwd, encoding: 'utf8', env: { ...process.env, HYPERSTART_BINARY: hyperstart } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
const build = (...extra: string[]) => hb(['build', 'web', '--depfile', 'out/web.d', '--cache-dir', cache, ...extra]);
const mtime = (p: string) => statSync(join(project, p)).mtimeMs;
const deps = () => readFileSync(join(project, 'out/web.d'), 'utf8');

/** The blobs of the layout's image `tag`: manifest, config, layers. */
function blobsOf(tag: string): string[] {
  const index = JSON.parse(readFileSync(join(project, 'image/index.json'), 'utf8'));
  const entry = index.manifests.find((m: { annotations?: Record<string, string> }) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  const hex = (d: string) => d.slice('sha256:'.length);
  const manifest = JSON.parse(readFileSync(join(project, 'image/blobs/sha256', hex(entry.digest)), 'utf8'));
  return [entry.digest, manifest.config.digest, ...manifest.layers.map((l: { digest: string }) => l.digest)].map((d: string) => `image/blobs/sha256/${hex(d)}`);
}

test('build NAME --depfile: the bundle, and a Make rule naming every input it read', () => {
  project_file();
  const r = build();
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'built: out/web ');
  const text = deps();
  const [rule, ...phony] = text.split('\n\n');
  const inputs = rule.replace(/\\\n/g, ' ').split(/\s+/).filter(Boolean);
  assert.is(inputs[0], 'out/web/bundle.json:');
  const listed = inputs.slice(1);
  for (const f of ['hyperbuild.yaml', 'image/index.json', ...blobsOf('hello'), hyperstart]) assert.ok(listed.includes(f), `${f} listed`);
  assert.ok(listed.some((f) => f.endsWith('/vmlinux') || f.endsWith('/vmlinuz')), 'the kernel is listed');
  const unused = blobsOf('latest').filter((b) => !blobsOf('hello').includes(b));
  assert.ok(unused.length > 0 && unused.every((b) => !listed.includes(b)), 'blobs of other images in the layout are not inputs');
  assert.is(phony.join('\n\n').trim().split('\n').length, listed.length, 'an empty rule per input (deleted inputs do not stop make)');
});

test('a no-op build touches nothing: bundle.json and the depfile keep their mtimes', () => {
  const before = [mtime('out/web/bundle.json'), mtime('out/web.d')];
  const r = build();
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'up to date: out/web ');
  assert.equal([mtime('out/web/bundle.json'), mtime('out/web.d')], before);
});

test('a touched input: no rebuild, but bundle.json becomes newer than it, so make stops asking', () => {
  const manifestBefore = readFileSync(join(project, 'out/web/bundle.json'), 'utf8');
  const depsBefore = [deps(), mtime('out/web.d')];
  const future = Date.now() / 1000 + 5;
  utimesSync(join(project, 'image/index.json'), future, future);
  const r = build();
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'up to date: out/web ');
  assert.ok(mtime('out/web/bundle.json') > mtime('image/index.json'), 'target newer than the touched input');
  assert.is(readFileSync(join(project, 'out/web/bundle.json'), 'utf8'), manifestBefore, 'content unchanged');
  assert.equal([deps(), mtime('out/web.d')], depsBefore, 'depfile untouched');
});

test('a changed input rebuilds; a flag given on the command line beats the project file', () => {
  project_file('    compression: zstd\n');
  let r = build();
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'built: out/web (initramfs.cpio.zst');
  r = build('--compression', 'gzip');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'built: out/web (initramfs.cpio.gz');
});

test('-f FILE from another directory: outputs and inputs relative to the project file', () => {
  const r = hb(['build', 'other', '-f', 'app/hyperbuild.yaml', '--depfile', 'other.d', '--cache-dir', cache], work);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'built: app/out/other ');
  assert.match(readFileSync(join(work, 'other.d'), 'utf8'), /^app\/out\/other\/bundle\.json: app\/hyperbuild\.yaml \\\n {2}app\/image\/index\.json/);
});

test('project mistakes are bad input (exit 2) naming the file and line', () => {
  let r = hb(['build', 'nope', '--cache-dir', cache]);
  assert.is(r.status, 2);
  assert.match(r.stderr, "hyperbuild.yaml has no bundle 'nope'");
  assert.match(r.stderr, 'hint: bundles there: web, other');
  r = hb(['build', '--cache-dir', cache]);
  assert.is(r.status, 2, 'two bundles and no name');
  assert.match(r.stderr, 'say which one');
  writeFileSync(join(project, 'hyperbuild.yaml'), 'bundles:\n  web:\n    image: oci:image:hello\n    ports: ["80:80"]\n');
  r = hb(['build', 'web', '--cache-dir', cache]);
  assert.is(r.status, 2);
  assert.match(r.stderr, 'hyperbuild: error: hyperbuild.yaml:4: bundles.web.ports: unknown key');
  r = hb(['build', 'web', '-f', 'missing.yaml', '--cache-dir', cache]);
  assert.is(r.status, 2);
  assert.match(r.stderr, 'cannot read project file missing.yaml');
});

test.run();
