/**
 * Authentication against real registries: htpasswd (Basic), bearer tokens
 * from a test token server, TLS with a private CA; login/logout writing the
 * Docker config, credential helpers, and redirects that must not leak
 * credentials to another host.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { HyperbuildError } from '../toolchain/errors/errors.ts';
import { pullBundle } from '../toolchain/registry/bundle-pull.ts';
import { pushBundle } from '../toolchain/registry/bundle-push.ts';
import { lookupCredentials } from '../toolchain/registry/docker-config.ts';
import { pullImage } from '../toolchain/registry/registry-source.ts';
import { makeBundleDir, makeOciLayout, tempDir, type BundleInfo, type OciLayoutInfo } from './helpers/registry-fixtures.ts';
import { startFaultProxy, type FaultProxy } from './helpers/registry-fault-proxy.ts';
import { runCli } from './helpers/cli.ts';
import { startRegistry, type RegistryServer } from './helpers/registry-server.ts';
import { startTokenServer, type TokenServer } from './helpers/registry-token-server.ts';

const USERS = { alice: 's3cret-pass', bob: 'hunter2' };
let work: string;
let basic: RegistryServer;
let tls: RegistryServer;
let token: RegistryServer;
let tokens: TokenServer;
let proxy: FaultProxy;
let bundle: BundleInfo;
let image: OciLayoutInfo;

test.before(async () => {
  work = tempDir('registry-auth');
  bundle = await makeBundleDir(join(work, 'bundle'));
  image = makeOciLayout(join(work, 'layout'));
  basic = await startRegistry({ kind: 'htpasswd', users: USERS });
  tls = await startRegistry({ kind: 'tls' });
  tokens = await startTokenServer(work, USERS);
  token = await startRegistry({ kind: 'token', realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certFile });
  proxy = await startFaultProxy(basic.host, { storageAuth: `Basic ${Buffer.from('bob:hunter2').toString('base64')}` });
});

test.after(async () => {
  await proxy?.stop();
  await token?.stop();
  await tokens?.stop();
  await tls?.stop();
  await basic?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<HyperbuildError> {
  try {
    await promise;
  } catch (err) {
    assert.instance(err, HyperbuildError);
    assert.match((err as Error).message, pattern);
    return err as HyperbuildError;
  }
  assert.unreachable(`expected a failure matching ${pattern}`);
  throw new Error('unreachable');
}

test('basic auth: anonymous is refused with a login hint; credentials work', async () => {
  const err = await rejects(pushBundle(bundle.dir, `${basic.host}/team/app:1`, { dockerConfig: join(work, 'none.json') }), /access denied by 127\.0\.0\.1:\d+ \(HTTP 401\)/);
  assert.match(err.hint ?? '', /hyperbuild login 127\.0\.0\.1/);
  const pushed = await pushBundle(bundle.dir, `${basic.host}/team/app:1`, { credentials: { username: 'alice', password: USERS.alice } });
  const pulled = await pullBundle(`${basic.host}/team/app:1`, join(work, 'basic-out'), { cacheDir: join(work, 'cache-basic'), credentials: { username: 'bob', password: USERS.bob } });
  assert.is(pulled.manifestDigest, pushed.manifestDigest);
});

test('CLI login checks the password, writes the Docker config, logout removes it', async () => {
  const dockerConfig = join(work, 'docker-login');
  const env = { DOCKER_CONFIG: dockerConfig, XDG_CACHE_HOME: join(work, 'xdg-login') };
  const wrong = await runCli(['login', basic.host, '-u', 'alice', '--password-stdin'], { from: 'source', env, input: 'nope\n' });
  assert.is(wrong.status, 4, wrong.stderr);
  assert.match(wrong.stderr, /access denied/);
  assert.match(wrong.stderr, /hint: check the user name and the password/);
  assert.not.ok(existsSync(join(dockerConfig, 'config.json')));

  const ok = await runCli(['login', basic.host, '-u', 'alice', '--password-stdin'], { from: 'source', env, input: `${USERS.alice}\n` });
  assert.is(ok.status, 0, ok.stderr);
  const file = join(dockerConfig, 'config.json');
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.is(saved.auths[basic.host].auth, Buffer.from(`alice:${USERS.alice}`).toString('base64'));
  assert.is(statSync(file).mode & 0o777, 0o600);

  // What login wrote, skopeo reads (shared Docker config).
  execFileSync('skopeo', ['copy', '--authfile', file, '--dest-tls-verify=false', `oci:${image.dir}:latest`, `docker://${basic.host}/team/img:1`], { stdio: 'pipe' });
  const pulled = await pullImage(`${basic.host}/team/img:1`, { cacheDir: join(work, 'cache-login'), dockerConfig: file });
  assert.is(pulled.manifestDigest, image.images[0]!.manifestDigest);

  const push = await runCli(['push', bundle.dir, `${basic.host}/team/cli:1`], { from: 'source', env });
  assert.is(push.status, 0, push.stderr);

  const out = await runCli(['logout', basic.host], { from: 'source', env });
  assert.is(out.status, 0, out.stderr);
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).auths, {});
  const denied = await runCli(['inspect', `${basic.host}/team/cli:1`], { from: 'source', env });
  assert.is(denied.status, 4, denied.stderr);
  assert.match(denied.stderr, /hint: check the repository name and your access to it, then run 'hyperbuild login/);
});

test('credential helpers (credsStore) store, get and erase', async () => {
  const bin = join(work, 'bin');
  const store = join(work, 'helper-store.json');
  mkdirSync(bin, { recursive: true });
  // A docker-credential-* helper keeping secrets in a JSON file.
  writeFileSync(
    join(bin, 'docker-credential-hbtest'),
    `#!/usr/bin/env node
const fs = require('fs'); const file = ${JSON.stringify(store)};
const db = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
const input = fs.readFileSync(0, 'utf8').trim();
const action = process.argv[2];
if (action === 'store') { const c = JSON.parse(input); db[c.ServerURL] = c; fs.writeFileSync(file, JSON.stringify(db)); }
else if (action === 'get') { if (!db[input]) { process.stdout.write('credentials not found in native keychain'); process.exit(1); } process.stdout.write(JSON.stringify({ ServerURL: input, Username: db[input].Username, Secret: db[input].Secret })); }
else if (action === 'erase') { delete db[input]; fs.writeFileSync(file, JSON.stringify(db)); }
`,
  );
  chmodSync(join(bin, 'docker-credential-hbtest'), 0o755);
  const dockerConfig = join(work, 'docker-helper');
  mkdirSync(dockerConfig, { recursive: true });
  writeFileSync(join(dockerConfig, 'config.json'), JSON.stringify({ credsStore: 'hbtest' }));
  const env = { DOCKER_CONFIG: dockerConfig, PATH: `${bin}:${process.env.PATH}`, XDG_CACHE_HOME: join(work, 'xdg-helper') };
  const login = await runCli(['login', basic.host, '-u', 'bob', '-p', USERS.bob], { from: 'source', env });
  assert.is(login.status, 0, login.stderr);
  assert.equal(JSON.parse(readFileSync(store, 'utf8'))[basic.host], { ServerURL: basic.host, Username: 'bob', Secret: USERS.bob });
  assert.not.match(readFileSync(join(dockerConfig, 'config.json'), 'utf8'), /hunter2/);
  const inspect = await runCli(['inspect', `${basic.host}/team/app:1`], { from: 'source', env });
  assert.is(inspect.status, 0, inspect.stderr);
  const logout = await runCli(['logout', basic.host], { from: 'source', env });
  assert.is(logout.status, 0, logout.stderr);
  assert.equal(JSON.parse(readFileSync(store, 'utf8')), {});
  const oldPath = process.env.PATH;
  process.env.PATH = env.PATH;
  try {
    assert.is(await lookupCredentials(basic.host, join(dockerConfig, 'config.json')), undefined);
  } finally {
    process.env.PATH = oldPath;
  }
});

test('redirects to another host (blob storage) do not carry Authorization', async () => {
  proxy.rules.push({ method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'redirect' }, times: Infinity });
  const pulled = await pullBundle(`${proxy.host}/team/app:1`, join(work, 'redirect-out'), { cacheDir: join(work, 'cache-redirect'), credentials: { username: 'alice', password: USERS.alice } });
  assert.is(pulled.bundle.kernel.name, 'vmlinux');
  const atProxy = proxy.seen.filter((s) => s.at === 'proxy' && s.status === 307);
  const atStorage = proxy.seen.filter((s) => s.at === 'storage');
  assert.is(atProxy.length, 3);
  assert.ok(atProxy.every((s) => s.authorization?.startsWith('Basic ')));
  assert.is(atStorage.length, 3);
  assert.ok(atStorage.every((s) => s.authorization === undefined), JSON.stringify(atStorage));
});

test('TLS: --ca-file trusts a private CA; without it the error says what to do; --tls-verify=false', async () => {
  const ref = `${tls.host}/secure/app:1`;
  const pushed = await pushBundle(bundle.dir, ref, { caFile: tls.caFile });
  const err = await rejects(pullBundle(ref, join(work, 'tls-fail'), { cacheDir: join(work, 'cache-tls') }), /TLS with 127\.0\.0\.1:\d+ failed/);
  assert.match(err.hint ?? '', /--ca-file/);
  const pulled = await pullBundle(ref, join(work, 'tls-insecure'), { cacheDir: join(work, 'cache-tls'), tlsVerify: false });
  assert.is(pulled.manifestDigest, pushed.manifestDigest);
  const env = { XDG_CACHE_HOME: join(work, 'xdg-tls'), DOCKER_CONFIG: join(work, 'docker-tls') };
  const viaCa = await runCli(['inspect', ref, '--json', '--ca-file', tls.caFile!], { from: 'source', env });
  assert.is(viaCa.status, 0, viaCa.stderr);
  assert.is(JSON.parse(viaCa.stdout).digest, pushed.manifestDigest);
  const viaInsecure = await runCli(['inspect', ref, '--tls-verify=false'], { from: 'source', env });
  assert.is(viaInsecure.status, 0, viaInsecure.stderr);
  const plain = await runCli(['inspect', ref], { from: 'source', env });
  assert.is(plain.status, 3, plain.stderr);
  assert.match(plain.stderr, /hint: pass --ca-file/);
  // skopeo reads what we pushed over TLS, trusting the same CA (cert-dir wants ca.crt).
  const certDir = join(work, 'certs-for-skopeo');
  mkdirSync(certDir, { recursive: true });
  writeFileSync(join(certDir, 'ca.crt'), readFileSync(tls.caFile!));
  const raw = execFileSync('skopeo', ['inspect', '--raw', '--cert-dir', certDir, `docker://${ref}`]);
  assert.is(sha256Digest(raw), pushed.manifestDigest);
});

test('bearer tokens: fetched from the realm with credentials, cached per scope, refused without', async () => {
  const ref = `${token.host}/team/app:1`;
  await rejects(pushBundle(bundle.dir, ref, { dockerConfig: join(work, 'none.json') }), /access denied|token/);
  tokens.requests.length = 0;
  const pushed = await pushBundle(bundle.dir, ref, { credentials: { username: 'alice', password: USERS.alice } });
  // HEADs run in parallel under one pull token, uploads under one push token.
  assert.equal(tokens.requests.map((r) => r.scopes.join(' ')).sort(), ['repository:team/app:pull', 'repository:team/app:pull,push']);
  assert.ok(tokens.requests.every((r) => r.user === 'alice'));
  // A mount needs one token for both repositories (push here, pull there).
  const mounted = await pushBundle(bundle.dir, `${token.host}/team/copy:1`, { credentials: { username: 'alice', password: USERS.alice }, mountFrom: 'team/app' });
  assert.equal(mounted.blobs.map((b) => b.outcome), ['mounted', 'mounted', 'mounted']);
  assert.ok(tokens.requests.some((r) => r.scopes.join(' ') === 'repository:team/copy:pull,push repository:team/app:pull'), JSON.stringify(tokens.requests));
  tokens.requests.length = 0;
  const pulled = await pullBundle(ref, join(work, 'token-out'), { cacheDir: join(work, 'cache-token'), credentials: { username: 'bob', password: USERS.bob } });
  assert.is(pulled.manifestDigest, pushed.manifestDigest);
  // One token for repository:team/app:pull serves the manifest and all blobs.
  assert.equal(tokens.requests, [{ scopes: ['repository:team/app:pull'], user: 'bob' }]);
  // Async: the token server lives in this process and must keep answering while skopeo runs.
  await promisify(execFile)('skopeo', ['copy', '--dest-creds', `alice:${USERS.alice}`, '--dest-tls-verify=false', `oci:${image.dir}:latest`, `docker://${token.host}/team/img:1`]);
  const img = await pullImage(`${token.host}/team/img:1`, { cacheDir: join(work, 'cache-token'), credentials: { username: 'bob', password: USERS.bob } });
  assert.is(img.manifestDigest, image.images[0]!.manifestDigest);
});

test.run();
