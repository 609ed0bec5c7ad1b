/**
 * hyperbuild.yaml: what the parser accepts, and that every refusal names the
 * file, the line and the key; loading by -f, paths relative to the file, and
 * the parse memo never serving an edited file.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { parseProject } from '../toolchain/project/parse-project.ts';
import { bundleValueError, findBundle, loadProject, projectImageReference, projectKernel, projectPath } from '../toolchain/project/load-project.ts';

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (err) {
    assert.match((err as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}

const work = mkdtempSync(join(tmpdir(), 'hb-project-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

const FULL = `# every key
bundles:
  web:
    image: oci:build/image:latest
    output: out/site
    platform: linux/arm64/v8
    kernel: hyperkernel
    compression: zstd
    rootfs: erofs
    run:
      env:
        MODE: prod
        TOKEN:
      ports: ["8080:80", "127.0.0.1:5353:53/udp"]
      volumes:
        - ./site:/www:ro
      memory: 256m
      cpus: 2
      hypervisor: qemu
      accel: tcg
    publish: registry.example.com/team/web:1.0
  worker:
    image: docker-archive:worker.tar
    run:
      env: [A=1, B]
`;

test('a full project file parses to its bundles, in file order', () => {
  const p = parseProject(FULL, 'hyperbuild.yaml');
  assert.equal(p.bundles.map((b) => b.name), ['web', 'worker']);
  const web = p.bundles[0];
  assert.is(web.image, 'oci:build/image:latest');
  assert.is(web.output, 'out/site');
  assert.is(web.platform, 'linux/arm64/v8');
  assert.is(web.compression, 'zstd');
  assert.is(web.rootfs, 'erofs');
  assert.equal(web.run, { env: ['MODE=prod', 'TOKEN'], ports: ['8080:80', '127.0.0.1:5353:53/udp'], volumes: ['./site:/www:ro'], memory: '256m', cpus: 2, hypervisor: 'qemu', accel: 'tcg' });
  assert.is(web.publish, 'registry.example.com/team/web:1.0');
  assert.is(web.lines.image, 4);
  assert.is(web.lines['run.ports[1]'], 14);
  const worker = p.bundles[1];
  assert.is(worker.output, 'out/worker', 'default output');
  assert.equal(worker.run, { env: ['A=1', 'B'], ports: [], volumes: [] });
});

/** The one-line message of the refusal, checking it is bad input (exit 2) with a hint. */
function refusal(text: string): string {
  try {
    parseProject(text, 'hyperbuild.yaml');
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.ok((err as BadInputError).hint, 'has a hint');
    assert.not.match((err as Error).message, '\n');
    return (err as Error).message;
  }
  throw new Error(`accepted: ${text}`);
}

const REFUSED: [string, string, string][] = [
  ['an unknown bundle key', 'bundles:\n  web:\n    image: oci:x\n    compresion: zstd\n', 'hyperbuild.yaml:4: bundles.web.compresion: unknown key'],
  ['an unknown run key', 'bundles:\n  web:\n    image: oci:x\n    run:\n      port: ["80:80"]\n', 'hyperbuild.yaml:5: bundles.web.run.port: unknown key'],
  ['an unknown top-level key', 'bundle:\n  web:\n    image: oci:x\n', 'hyperbuild.yaml:1: bundle: unknown key'],
  ['a duplicate key', 'bundles:\n  web:\n    image: oci:x\n    image: oci:y\n', 'hyperbuild.yaml:4: image: duplicate key'],
  ['a missing image', 'bundles:\n  web:\n    output: out/x\n', 'hyperbuild.yaml:2: bundles.web: needs an image'],
  ['a bad image reference', 'bundles:\n  web:\n    image: "oci:"\n', "hyperbuild.yaml:3: bundles.web.image: invalid image reference 'oci:'"],
  ['a publish target that is not a registry', 'bundles:\n  web:\n    image: oci:x\n    publish: oci:y\n', "hyperbuild.yaml:4: bundles.web.publish: 'oci:y' is not a registry reference"],
  ['a bad choice', 'bundles:\n  web:\n    image: oci:x\n    rootfs: btrfs\n', "hyperbuild.yaml:4: bundles.web.rootfs: 'btrfs' is not allowed"],
  ['a bad platform', 'bundles:\n  web:\n    image: oci:x\n    platform: amd64\n', "hyperbuild.yaml:4: bundles.web.platform: invalid platform 'amd64'"],
  ['a list where a value belongs', 'bundles:\n  web:\n    image: [oci:x]\n', 'hyperbuild.yaml:3: bundles.web.image: must be a single value'],
  ['a value where a list belongs', 'bundles:\n  web:\n    image: oci:x\n    run:\n      ports: "80:80"\n', 'hyperbuild.yaml:5: bundles.web.run.ports: must be a list'],
  ['cpus out of range', 'bundles:\n  web:\n    image: oci:x\n    run:\n      cpus: 0\n', 'hyperbuild.yaml:5: bundles.web.run.cpus: must be a whole number'],
  ['a bundle name that looks like a path', 'bundles:\n  a/b:\n    image: oci:x\n', 'hyperbuild.yaml:2: bundles.a/b: is not a usable bundle name'],
  ['no bundles', 'bundles: {}\n', 'hyperbuild.yaml:1: bundles: names no bundle'],
  ['an empty file', '', 'hyperbuild.yaml:1: bundles: the file is empty'],
  ['broken YAML', 'bundles:\n  web:\n    image: oci:x\n   bad: 1\n', 'hyperbuild.yaml:4: not valid YAML'],
];

for (const [name, text, expected] of REFUSED) {
  test(`refused with file, line and key: ${name}`, () => {
    assert.ok(refusal(text).startsWith(expected), refusal(text));
  });
}

test('loadProject: -f FILE, paths relative to the file, a missing file explained', async () => {
  const dir = join(work, 'app');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'other.yaml');
  writeFileSync(file, 'bundles:\n  web:\n    image: oci:build/image:v1\n    kernel: kernels/vmlinux\n    run:\n      ports: ["80:80"]\n');
  const project = await loadProject({ file });
  const web = findBundle(project, 'web');
  const rel = (p: string) => relative(process.cwd(), join(dir, p));
  assert.is(projectImageReference(project, web), `oci:${rel('build/image')}:v1`);
  assert.is(projectPath(project, web.output), rel('out/web'));
  assert.is(projectKernel(project, web), rel('kernels/vmlinux'));
  assert.match(bundleValueError(project, web, 'run.ports[0]', 'bad port').message, `${file}:6: bundles.web.run.ports[0]: bad port`);
  assert.throws(() => findBundle(project, 'api'), /has no bundle 'api'/);
  await rejects(loadProject({ file: join(dir, 'missing.yaml') }), /cannot read project file/);
});

test('loadProject: the parse memo never serves an edited file', async () => {
  const dir = join(work, 'memo');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'hyperbuild.yaml');
  const cacheDir = join(work, 'cache');
  writeFileSync(file, 'bundles:\n  web:\n    image: oci:a\n');
  assert.is((await loadProject({ file, cacheDir })).bundles[0].image, 'oci:a');
  assert.is((await loadProject({ file, cacheDir })).bundles[0].image, 'oci:a', 'remembered');
  writeFileSync(file, 'bundles:\n  web:\n    image: oci:b\n');
  assert.is((await loadProject({ file, cacheDir })).bundles[0].image, 'oci:b');
  writeFileSync(file, 'bundles:\n  web:\n    image: oci:b\n    bogus: 1\n');
  await rejects(loadProject({ file, cacheDir }), /bundles.web.bogus: unknown key/);
});

test.run();
