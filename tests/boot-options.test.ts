import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageRuntimeConfig } from '../toolchain/bundle/manifest.ts';
import { parseDurationMs } from '../toolchain/boot/duration.ts';
import { mergeEnv, parseEnvEntry, readEnvFile } from '../toolchain/boot/env-options.ts';
import { defaultMemoryMiB, parseMemory } from '../toolchain/boot/memory.ts';
import { assertNoDuplicateHostPorts, assertPortFree, parsePublish } from '../toolchain/boot/publish.ts';
import { buildRuntimeSpec as buildSpec, type RuntimeOverrides } from '../toolchain/boot/runtime-spec.ts';
import { QEMU_CAPABILITIES, QEMU_USER_NETWORK } from '../toolchain/boot/backends/qemu.ts';
import { guestNetwork } from '../toolchain/boot/capabilities.ts';
import { parseVolume } from '../toolchain/boot/volume.ts';
import { BadInputError, HyperbuildError } from '../toolchain/errors/errors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'hb-boot-options-'));

test('publish: HOST:GUEST defaults to tcp on 127.0.0.1; IP and udp accepted', () => {
  assert.equal(parsePublish('8080:80'), { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, guestPort: 80 });
  assert.equal(parsePublish('0.0.0.0:5353:53/udp'), { protocol: 'udp', hostIp: '0.0.0.0', hostPort: 5353, guestPort: 53 });
  assert.equal(parsePublish('1:65535/tcp').guestPort, 65535);
  for (const bad of ['80', '8080:80/sctp', 'x:80', '0:80', '8080:70000', '::1:80:80', 'a.b:1:2', '1:2:3:4']) {
    assert.throws(() => parsePublish(bad), (e: Error) => e instanceof BadInputError, bad);
  }
  assert.throws(() => assertNoDuplicateHostPorts([parsePublish('8080:80'), parsePublish('8080:81')]), /given twice/);
  assertNoDuplicateHostPorts([parsePublish('8080:80'), parsePublish('8080:80/udp')]);
});

test('publish: a host port in use is refused before boot', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  try {
    await assertPortFree(parsePublish(`${port}:80`));
    assert.unreachable();
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.match((err as Error).message, new RegExp(`host port ${port}/tcp .*EADDRINUSE`));
  } finally {
    server.close();
  }
  await assertPortFree(parsePublish(`${port}:80`));
});

test('volume: HOST:GUEST[:ro], host path must exist and be a directory', () => {
  const dir = join(tmp, 'vol');
  mkdirSync(dir);
  writeFileSync(join(tmp, 'file'), 'x');
  assert.equal(parseVolume(`${dir}:/data`, 0), { tag: 'hbv0', hostPath: dir, guestPath: '/data', readOnly: false });
  assert.equal(parseVolume('vol:/data:ro', 3, tmp), { tag: 'hbv3', hostPath: dir, guestPath: '/data', readOnly: true });
  assert.throws(() => parseVolume(`${tmp}/missing:/data`, 0), /does not exist/);
  assert.throws(() => parseVolume(`${tmp}/file:/data`, 0), /not a directory/);
  assert.throws(() => parseVolume(`${dir}:data`, 0), /absolute/);
  assert.throws(() => parseVolume(`${dir}:/a/../b`, 0), /absolute/);
  assert.throws(() => parseVolume(`${dir}:/`, 0), /cannot mount over/);
  assert.throws(() => parseVolume(`${dir}:/.hyperstart/x`, 0), /cannot mount over/);
  assert.throws(() => parseVolume(`${dir}:/data:rx`, 0), /ro or rw/);
  assert.throws(() => parseVolume(dir, 0), /HOST:GUEST/);
});

test('env: K=V kept, bare K from the host env or dropped, env-file rules', () => {
  const host = { HOME: '/root', EMPTY: '' };
  assert.is(parseEnvEntry('A=1=2', host, '-e'), 'A=1=2');
  assert.is(parseEnvEntry('HOME', host, '-e'), 'HOME=/root');
  assert.is(parseEnvEntry('EMPTY', host, '-e'), 'EMPTY=');
  assert.is(parseEnvEntry('UNSET', host, '-e'), undefined);
  assert.throws(() => parseEnvEntry('=x', host, '-e'), (e: Error) => e instanceof BadInputError);
  const f = join(tmp, 'env');
  writeFileSync(f, '# comment\n\nA=1\r\n  B=two words\nHOME\nUNSET\n');
  assert.equal(readEnvFile(f, host), ['A=1', 'B=two words', 'HOME=/root']);
  assert.throws(() => readEnvFile(join(tmp, 'nope'), host), /cannot read/);
  assert.equal(mergeEnv(['PATH=/bin', 'A=1'], ['B=2', 'A=3']), ['PATH=/bin', 'A=3', 'B=2']);
});

const image: ImageRuntimeConfig = {
  entrypoint: ['/entry'], cmd: ['--default'], env: ['PATH=/img/bin', 'A=image'], workingDir: '/srv', user: 'nobody',
  exposedPorts: [], volumes: [], labels: {},
};
/** The spec as boot builds it for the QEMU backend: the guest's addresses are the backend's. */
const buildRuntimeSpec = (img: ImageRuntimeConfig, o: RuntimeOverrides) => buildSpec(img, o, guestNetwork(QEMU_CAPABILITIES, o.network));
const none: RuntimeOverrides = { args: [], envFiles: [], env: [], tty: false, network: 'user', volumes: [] };

test('runtime spec: image defaults, like docker run', () => {
  const s = buildRuntimeSpec(image, none);
  assert.equal(s.args, ['/entry', '--default']);
  assert.equal(s.env, ['PATH=/img/bin', 'A=image']);
  assert.is(s.workdir, '/srv');
  assert.is(s.user, 'nobody');
  assert.equal(s.network, QEMU_USER_NETWORK);
  assert.equal(s.network?.address, '10.0.2.15/24');
  assert.equal(s.network?.dns, ['10.0.2.3']);
  assert.is(s.tty, false);
});

test('runtime spec: args replace cmd; --entrypoint replaces entrypoint and clears cmd', () => {
  assert.equal(buildRuntimeSpec(image, { ...none, args: ['x', 'y'] }).args, ['/entry', 'x', 'y']);
  assert.equal(buildRuntimeSpec(image, { ...none, entrypoint: '/bin/sh' }).args, ['/bin/sh']);
  assert.equal(buildRuntimeSpec(image, { ...none, entrypoint: '/bin/sh', args: ['-c', 'id'] }).args, ['/bin/sh', '-c', 'id']);
  assert.equal(buildRuntimeSpec(image, { ...none, entrypoint: '', args: ['ls'] }).args, ['ls']);
  assert.throws(() => buildRuntimeSpec(image, { ...none, entrypoint: '' }), /no command/);
});

test('runtime spec: env files then -e override image env; -w -u --hostname -t --network none; volumes', () => {
  const s = buildRuntimeSpec(image, {
    ...none, envFiles: ['A=file', 'B=file'], env: ['B=flag'], workdir: '/tmp', user: '1000:1000', hostname: 'vm', tty: true,
    network: 'none', volumes: [{ tag: 'hbv0', hostPath: '/h', guestPath: '/data', readOnly: true }],
  });
  assert.equal(s.env, ['PATH=/img/bin', 'A=file', 'TERM=xterm', 'B=flag']);
  assert.is(s.workdir, '/tmp');
  assert.is(s.user, '1000:1000');
  assert.is(s.hostname, 'vm');
  assert.is(s.tty, true);
  assert.equal(s.network, { mode: 'none' });
  assert.equal(s.volumes, [{ tag: 'hbv0', guestPath: '/data', readOnly: true }]);
  assert.equal(buildRuntimeSpec({ ...image, env: [] }, none).env[0], 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  assert.throws(() => buildRuntimeSpec(image, { ...none, workdir: 'rel' }), /absolute/);
});

test('memory: sizes, bounds, default grows with the initramfs', () => {
  assert.is(parseMemory('256'), 256);
  assert.is(parseMemory('256m'), 256);
  assert.is(parseMemory('1G'), 1024);
  assert.is(parseMemory('2GiB'), 2048);
  assert.throws(() => parseMemory('8m'), /between/);
  assert.throws(() => parseMemory('lots'), /size like/);
  const small = defaultMemoryMiB({ size: 1 << 20, uncompressedSize: 3 << 20 });
  const big = defaultMemoryMiB({ size: 100 << 20, uncompressedSize: 300 << 20 });
  assert.ok(small >= 96 && small % 16 === 0, String(small));
  assert.ok(big >= small + 400, String(big));
  // The tmpfs root gets half of RAM: twice the unpacked size must fit.
  assert.ok(big / 2 >= 300, String(big));
});

test('durations', () => {
  assert.is(parseDurationMs('10', '--stop-timeout'), 10_000);
  assert.is(parseDurationMs('500ms', '--timeout'), 500);
  assert.is(parseDurationMs('1.5s', '--timeout'), 1500);
  assert.is(parseDurationMs('2m', '--timeout'), 120_000);
  assert.throws(() => parseDurationMs('soon', '--timeout'), /duration/);
});

test.run();
