/**
 * Hopeless registries end in bounded time with their documented class and
 * exit code (README exit-code table), through the real CLI: a registry that
 * never answers, one that sends a byte a second (a manifest without
 * Content-Length, a blob with one), one nobody listens on, 500 forever, 429 with Retry-After 100000,
 * a redirect loop and a 401 token loop. Each run's wall time is bounded as a
 * hang detector only; the default --registry-timeout case shows a hopeless
 * pull finishes well under a minute, saying what it is waiting on.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from './helpers/cli.ts';
import { type OciLayoutInfo } from './helpers/registry-fixtures.ts';
import { startFaultRegistry, type FaultRegistry } from './helpers/fault-registry.ts';
import { type Fault, type FaultProxy } from './helpers/registry-fault-proxy.ts';
import { freePort } from './helpers/registry-server.ts';

let proxy: FaultProxy;
let work: string;
let image: OciLayoutInfo;
let run = 0;

let fixture: FaultRegistry | undefined;

test.before(async () => {
  fixture = await startFaultRegistry('deadlines', 'd/img:1');
  ({ proxy, work, image } = fixture);
});

test.after(async () => {
  await fixture?.stop();
});

test.before.each(() => fixture!.reset());

interface Outcome {
  status: number;
  stderr: string;
  seconds: number;
  errorLine: string;
  hintLine: string;
}

/** `hyperbuild build` of the proxied image with `fault` on `path`; the contract every hostile case must keep. */
async function buildThrough(path: RegExp, fault: Fault, timeout: string | undefined): Promise<Outcome> {
  proxy.rules.push({ path, fault, times: Infinity });
  const out = join(work, `out-${++run}`);
  const args = ['build', `${proxy.host}/d/img:1`, '-o', out, '--cache-dir', join(work, `cache-${run}`)];
  if (timeout) args.push('--registry-timeout', timeout);
  const started = Date.now();
  const r = await runCli(args, { from: 'source' });
  const seconds = (Date.now() - started) / 1000;
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(lines.filter((l) => l.startsWith('hyperbuild: error:')).length, 1, r.stderr);
  assert.not.match(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, 'no stack trace');
  assert.not.ok(existsSync(out), 'no output on failure');
  return { status: r.status, stderr: r.stderr, seconds, errorLine: lines.at(-2)!, hintLine: lines.at(-1)! };
}

function expectClass(o: Outcome, code: number, message: RegExp, maxSeconds: number): void {
  assert.is(o.status, code, o.stderr);
  assert.match(o.errorLine, message, o.stderr);
  assert.match(o.hintLine, /^hint: \S/);
  assert.ok(o.seconds < maxSeconds, `took ${o.seconds} s (hang detector, bound ${maxSeconds} s)`);
}

test('a registry that never answers: 124 (DeadlineError), retries within --registry-timeout', async () => {
  const o = await buildThrough(/\/manifests\//, { kind: 'silent' }, '3s');
  expectClass(o, 124, /fetching manifest .*did not answer GET \/v2\/d\/img\/manifests\/1 (within 1 s|before the deadline); gave up after \d tries in [34](\.\d)? s/, 30);
  assert.match(o.hintLine, /--registry-timeout/);
});

test('a byte a second, manifest without Content-Length: 124 after the whole-transfer deadline', async () => {
  const o = await buildThrough(/\/manifests\//, { kind: 'trickle', bytesPerSecond: 1, dropLength: true }, '3s');
  expectClass(o, 124, /fetching manifest .*(did not finish sending GET .* before the deadline|sent nothing)/, 30);
});

test('a byte a second, blob with Content-Length: 124 after --registry-timeout plus its size at 64 KiB/s', async () => {
  const o = await buildThrough(new RegExp(`/blobs/${image.images[0]!.layerDigest}$`), { kind: 'trickle', bytesPerSecond: 1 }, '4s');
  expectClass(o, 124, /downloading layer 1\/1 .*did not finish sending GET .* before the deadline/, 40);
});

test('500 forever: 3 (RegistryError) after the retries', async () => {
  const o = await buildThrough(/\/manifests\//, { kind: 'status', status: 500 }, '5s');
  expectClass(o, 3, /answered HTTP 500; gave up after \d tries in /, 30);
});

test('429 with Retry-After: 100000: 3 at once, not a day later', async () => {
  const o = await buildThrough(/\/manifests\//, { kind: 'status', status: 429, headers: { 'Retry-After': '100000' } }, '5s');
  expectClass(o, 3, /HTTP 429 and asks to retry in 100000 s, past the --registry-timeout budget/, 20);
  assert.match(o.hintLine, /rate-limiting/);
});

test('a redirect loop: 3 (RegistryError), named as a loop', async () => {
  const o = await buildThrough(/\/manifests\//, { kind: 'redirect-loop' }, '5s');
  expectClass(o, 3, /too many redirects/, 20);
  assert.match(o.hintLine, /redirects in a loop/);
});

test('a 401 token loop: 4 (AccessDeniedError) after one renewal', async () => {
  const o = await buildThrough(/^\/v2\//, { kind: 'token-loop' }, '5s');
  expectClass(o, 4, /access denied by 127\.0\.0\.1:\d+ \(HTTP 401\)/, 20);
  assert.match(o.hintLine, /hyperbuild login 127\.0\.0\.1:\d+/);
});

test('a registry nobody listens on: 3 (RegistryError), named as unreachable', async () => {
  const port = await freePort();
  const started = Date.now();
  const r = await runCli(['build', `127.0.0.1:${port}/d/img:1`, '-o', join(work, 'out-unreachable'), '--cache-dir', join(work, 'cache-unreachable'), '--registry-timeout', '3s'], { from: 'source' });
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(r.status, 3, r.stderr);
  assert.match(lines.at(-2)!, /^hyperbuild: error: contacting registry 127\.0\.0\.1:\d+: cannot talk to 127\.0\.0\.1:\d+: .*ECONNREFUSED.*; gave up after \d (try|tries)/);
  assert.match(lines.at(-1)!, /^hint: check the registry address and your network/);
  assert.ok((Date.now() - started) / 1000 < 30, 'hang detector');
});

test('the default --registry-timeout: a registry that never answers ends well under a minute, saying what it waits on', async () => {
  const o = await buildThrough(/^\/v2\/$/, { kind: 'silent' }, undefined);
  expectClass(o, 124, /contacting registry .*did not answer GET \/v2\/ (within 10 s|before the deadline); gave up after 3 tries in 3\d s/, 50);
  assert.match(o.stderr, /waiting for 127\.0\.0\.1:\d+ \(no answer for \d+(\.\d)? s; giving up in \d+ s, --registry-timeout\)/);
});

test.run();
