/**
 * A fault-injecting proxy in front of a real registry: dropped connections
 * resume with Range, 500 and 429 (Retry-After) are retried, wrong bytes never
 * reach the cache, and redirects to another host do not carry credentials.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadInputError, RegistryError } from '../toolchain/errors/errors.ts';
import { pullImage } from '../toolchain/registry/registry-source.ts';
import { type OciLayoutInfo } from './helpers/registry-fixtures.ts';
import { startFaultRegistry, type FaultRegistry } from './helpers/fault-registry.ts';
import { type FaultProxy } from './helpers/registry-fault-proxy.ts';

let proxy: FaultProxy;
let work: string;
let image: OciLayoutInfo;
const FAST = { retry: { baseDelayMs: 10, maxDelayMs: 50 } };

let fixture: FaultRegistry | undefined;

test.before(async () => {
  fixture = await startFaultRegistry('faults', 'f/img:1');
  ({ proxy, work, image } = fixture);
});

test.after(async () => {
  await fixture?.stop();
});

test.before.each(() => fixture!.reset());

const layer = () => image.images[0]!;
const blobPath = () => new RegExp(`/blobs/${layer().layerDigest}$`);

test('a connection dropped mid-blob is resumed with a Range request', async () => {
  assert.ok(layer().layerSize > 60_000, `layer is ${layer().layerSize} bytes`);
  proxy.rules.push({ method: 'GET', path: blobPath(), fault: { kind: 'drop', afterBytes: 40_000 }, times: 1 });
  const logs: string[] = [];
  const cacheDir = join(work, 'cache-drop');
  const pulled = await pullImage(`${proxy.host}/f/img:1`, { cacheDir, ...FAST, log: (l) => logs.push(l) });
  assert.is(pulled.layers[0]!.digest, layer().layerDigest);
  const gets = proxy.seen.filter((s) => s.method === 'GET' && blobPath().test(s.path));
  assert.is(gets.length, 2, JSON.stringify(gets));
  assert.is(gets[0]!.fault, 'drop');
  assert.match(gets[1]!.range ?? '', /^bytes=\d+-$/);
  assert.is(gets[1]!.status, 206);
  assert.ok(logs.some((l) => /resuming/.test(l)), logs.join('\n'));
});

test('500 then 200: the request is retried', async () => {
  proxy.rules.push({ method: 'GET', path: /\/manifests\//, fault: { kind: 'status', status: 500 }, times: 1 });
  proxy.rules.push({ method: 'GET', path: blobPath(), fault: { kind: 'status', status: 503 }, times: 2 });
  const pulled = await pullImage(`${proxy.host}/f/img:1`, { cacheDir: join(work, 'cache-500'), ...FAST });
  assert.is(pulled.manifestDigest, layer().manifestDigest);
  const statuses = proxy.seen.filter((s) => /\/manifests\//.test(s.path)).map((s) => s.status);
  assert.equal(statuses, [500, 200]);
  assert.equal(
    proxy.seen.filter((s) => blobPath().test(s.path)).map((s) => s.status),
    [503, 503, 200],
  );
});

test('429 with Retry-After is honoured', async () => {
  proxy.rules.push({ method: 'GET', path: blobPath(), fault: { kind: 'status', status: 429, headers: { 'Retry-After': '1' } }, times: 1 });
  const start = Date.now();
  await pullImage(`${proxy.host}/f/img:1`, { cacheDir: join(work, 'cache-429'), ...FAST });
  const elapsed = Date.now() - start;
  assert.ok(elapsed >= 950, `waited only ${elapsed} ms`);
  assert.equal(
    proxy.seen.filter((s) => blobPath().test(s.path)).map((s) => s.status),
    [429, 200],
  );
});

test('a registry that keeps failing gives up with a clear error', async () => {
  proxy.rules.push({ method: 'GET', path: blobPath(), fault: { kind: 'status', status: 502 }, times: Infinity });
  try {
    await pullImage(`${proxy.host}/f/img:1`, { cacheDir: join(work, 'cache-502'), retry: { attempts: 3, baseDelayMs: 10 } });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, RegistryError);
    assert.is((err as RegistryError).exitCode, 3);
    assert.match((err as Error).message, /answered HTTP 502; gave up after 3 tries in /);
  }
  assert.is(proxy.seen.filter((s) => blobPath().test(s.path)).length, 3);
});

test('wrong bytes are refused and never reach the cache', async () => {
  proxy.rules.push({ method: 'GET', path: blobPath(), fault: { kind: 'corrupt' }, times: Infinity });
  const cacheDir = join(work, 'cache-corrupt');
  try {
    await pullImage(`${proxy.host}/f/img:1`, { cacheDir, ...FAST });
    assert.unreachable();
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.match((err as Error).message, /does not match its digest/);
  }
  const blobs = join(cacheDir, 'blobs', 'sha256');
  assert.not.ok(existsSync(join(blobs, layer().layerDigest.slice(7))));
  assert.equal(
    readdirSync(blobs).filter((f) => f.includes('tmp')),
    [],
  );
  // The same cache then pulls the good bytes once the corruption stops.
  proxy.rules.length = 0;
  const pulled = await pullImage(`${proxy.host}/f/img:1`, { cacheDir, ...FAST });
  assert.ok(existsSync(pulled.layers[0]!.path));
});

test.run();
