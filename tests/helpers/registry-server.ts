/**
 * A real registry for tests: Debian's docker-registry (distribution 2.8) on
 * 127.0.0.1 and a free port, filesystem storage in a temp dir, in four
 * flavours: open, htpasswd (basic), tls (self-signed CA), token (bearer
 * tokens from a test token server). `stop()` kills it and removes its files.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempDir } from './registry-fixtures.ts';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface TlsFiles {
  caCert: string;
  cert: string;
  key: string;
}

/** A CA and a server certificate for 127.0.0.1/localhost signed by it. */
export function makeTlsFiles(dir: string): TlsFiles {
  const f = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=hyperbuild test CA');
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  ossl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('san.ext'));
  return { caCert: f('ca.pem'), cert: f('server.pem'), key: f('server.key') };
}

export type RegistryFlavour =
  | { kind: 'open' }
  | { kind: 'htpasswd'; users: Record<string, string> }
  | { kind: 'tls' }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundle: string };

export interface RegistryServer {
  /** host:port, as used in references. */
  host: string;
  port: number;
  dir: string;
  /** CA that signed the server certificate (tls flavour). */
  caFile?: string;
  /** The registry's own log, for debugging a failed test. */
  log(): string;
  stop(): Promise<void>;
}

function authSection(flavour: RegistryFlavour, dir: string): string {
  if (flavour.kind === 'htpasswd') {
    const lines = Object.entries(flavour.users).map(([u, p]) => execFileSync('htpasswd', ['-Bbn', u, p], { encoding: 'utf8' }).trim());
    const file = join(dir, 'htpasswd');
    writeFileSync(file, `${lines.join('\n')}\n`);
    return `auth:\n  htpasswd:\n    realm: hyperbuild-test\n    path: ${file}\n`;
  }
  if (flavour.kind === 'token') {
    return `auth:\n  token:\n    realm: ${flavour.realm}\n    service: ${flavour.service}\n    issuer: ${flavour.issuer}\n    rootcertbundle: ${flavour.rootCertBundle}\n`;
  }
  return '';
}

export async function startRegistry(flavour: RegistryFlavour = { kind: 'open' }): Promise<RegistryServer> {
  if (!existsSync(REGISTRY_BINARY)) throw new Error(`${REGISTRY_BINARY} is missing: apt-get install docker-registry`);
  const dir = tempDir(`registry-${flavour.kind}`);
  const port = await freePort();
  const tls = flavour.kind === 'tls' ? makeTlsFiles(dir) : undefined;
  const config =
    `version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n` +
    `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\n` +
    `http:\n  addr: 127.0.0.1:${port}\n  secret: hyperbuild-test-secret\n` +
    (tls ? `  tls:\n    certificate: ${tls.cert}\n    key: ${tls.key}\n` : '') +
    authSection(flavour, dir);
  writeFileSync(join(dir, 'config.yml'), config);
  const child: ChildProcess = spawn(REGISTRY_BINARY, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const host = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`docker-registry exited early:\n${log}`);
    }
    if (await answers(host, Boolean(tls))) break;
    if (i > 100) {
      await stop();
      throw new Error(`docker-registry did not come up on ${host}:\n${log}`);
    }
    await sleep(100);
  }
  return { host, port, dir, caFile: tls?.caCert, log: () => log, stop };
}

function answers(host: string, tls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const req = (tls ? https : http).get(`${tls ? 'https' : 'http'}://${host}/v2/`, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(1000, () => req.destroy());
  });
}
