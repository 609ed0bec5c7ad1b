/**
 * One bundle module, one wording: `hyperbuild boot DIR` and `hyperbuild push
 * DIR REF` (the built CLI, `make cli`) refuse the same bad bundle with the
 * same error and hint, exit 2, and push does so before any network use (a
 * listening "registry" sees no connection).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';
import { makeBundleDir, tempDir } from './helpers/registry-fixtures.ts';

const work = tempDir('bundle-cli');
const env = { XDG_CACHE_HOME: join(work, 'xdg'), DOCKER_CONFIG: join(work, 'docker') };

/** A TCP listener standing in for a registry; counts the connections it gets. */
let server: Server;
let connections = 0;
let probes = 0;
let port = 0;

/** Connections so far, not counting probes: ours is accepted after any earlier one, so when it arrives the count is final. */
async function connectionsSoFar(): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('connection', () => resolve());
    const probe = connect(port, '127.0.0.1');
    probe.on('error', reject).on('connect', () => probe.end());
  });
  probes += 1;
  return connections - probes;
}

test.before(async () => {
  // Any request gets a plain 400, which no client retries.
  server = createServer((s) => {
    connections += 1;
    s.on('error', () => {});
    s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
test.after(() => {
  server.close();
  rmSync(work, { recursive: true, force: true });
});

const breakages: [string, (dir: string) => void, RegExp][] = [
  ['a kernel.name that is a path', (dir) => editManifest(dir, (m) => ({ ...m, kernel: { ...(m.kernel as object), name: 'sub dir/kernel' } })), /kernel\.name must be a plain file name/],
  ['an unknown schemaVersion', (dir) => editManifest(dir, (m) => ({ ...m, schemaVersion: 2 })), /schemaVersion must be 1, not 2/],
  ['a bad digest', (dir) => editManifest(dir, (m) => ({ ...m, initramfs: { ...(m.initramfs as object), digest: 'sha256:abc' } })), /initramfs\.digest must be a sha256 digest/],
  ['a truncated initramfs', (dir) => writeFileSync(join(dir, 'initramfs.cpio.gz'), readFileSync(join(dir, 'initramfs.cpio.gz')).subarray(0, 100)), /initramfs initramfs\.cpio\.gz has 100 bytes, bundle\.json says \d+/],
  ['no bundle.json', (dir) => rmSync(join(dir, 'bundle.json')), /is not a bundle: cannot read bundle\.json/],
];

function editManifest(dir: string, edit: (m: Record<string, unknown>) => Record<string, unknown>): void {
  const path = join(dir, 'bundle.json');
  writeFileSync(path, JSON.stringify(edit(JSON.parse(readFileSync(path, 'utf8')))));
}

for (const [what, breakIt, expected] of breakages) {
  test(`boot and push refuse ${what} with the same line, exit 2, no network`, async () => {
    const dir = (await makeBundleDir(join(work, what.replace(/\W+/g, '-')))).dir;
    breakIt(dir);
    const boot = await runCli(['boot', dir], { env });
    const push = await runCli(['push', dir, `127.0.0.1:${port}/team/bad:1`], { env });
    assert.is(boot.status, 2, boot.stderr);
    assert.is(push.status, 2, push.stderr);
    assert.match(boot.stderr, expected);
    assert.is(push.stderr, boot.stderr, 'push and boot word the defect the same');
    assert.match(push.stderr, /hint: /);
    assert.is(await connectionsSoFar(), 0, 'push contacted the registry before refusing the bundle');
  });
}

test('an unreachable registry is never reached for a bad bundle', async () => {
  const dir = (await makeBundleDir(join(work, 'unreachable'))).dir;
  editManifest(dir, (m) => ({ ...m, kernel: { ...(m.kernel as object), name: '../x' } }));
  const push = await runCli(['push', dir, '127.0.0.1:1/team/bad:1'], { env });
  assert.is(push.status, 2, push.stderr);
  assert.match(push.stderr, /kernel\.name must be a plain file name .*, not "\.\.\/x"/);
  assert.not.match(push.stderr, /ECONNREFUSED|connect/i);
});

test('a good bundle does reach the (fake) registry: the check above can fail', async () => {
  const dir = (await makeBundleDir(join(work, 'good'))).dir;
  const push = await runCli(['push', dir, `127.0.0.1:${port}/team/good:1`], { env });
  // Exit 3: RegistryError (README exit-code table), the fake registry is no OCI registry.
  assert.is(push.status, 3, push.stderr);
  assert.ok((await connectionsSoFar()) > 0);
});

test.run();
