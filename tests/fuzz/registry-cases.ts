/**
 * Fuzz cases against a fault-injecting registry: a real registry (Debian's
 * docker-registry) holding one image, and per case a fault proxy in front of
 * it with one fault mode (tests/helpers/registry-fault-proxy.ts). Each mode
 * has the exit code the exit-code table gives it: transient faults are
 * ridden out (0), hopeless ones end as RegistryError (3), AccessDeniedError
 * (4) or DeadlineError (124), wrong bytes as bad input (2).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeTar } from '../../toolchain/tar/writer.ts';
import { startFaultProxy, type FaultRule } from '../helpers/registry-fault-proxy.ts';
import { startRegistry, type RegistryServer } from '../helpers/registry-server.ts';
import type { FuzzCase } from './cases.ts';
import { layoutFiles, TAG, writeFiles } from './image-files.ts';
import { baseMembers } from './layer-mutations.ts';
import { Rng } from './rng.ts';

const REPO_REF = 'fz/img:1';
const MANIFESTS = /\/manifests\//;
const BLOBS = /\/blobs\/sha256:/;

export interface RegistryFixture {
  host: string;
  /** Flags every registry case builds with. */
  args(c: FuzzCase): string[];
  stop(): Promise<void>;
}

let fixture: RegistryFixture | undefined;

/** Start the registry and push the image the registry cases pull (big enough that a drop lands mid-blob). */
export async function startRegistryFixture(dir: string): Promise<RegistryFixture> {
  const registry: RegistryServer = await startRegistry({ kind: 'open' });
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(1);
  const members = [...baseMembers(rng), { entry: { path: 'hbfzmark-big', type: 'file' as const }, data: rng.bytes(200_000) }];
  writeFiles(join(dir, 'layout'), layoutFiles([{ tar: encodeTar(members), compression: 'gzip' }]));
  execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${join(dir, 'layout')}:${TAG}`, `docker://${registry.host}/${REPO_REF}`], { stdio: 'pipe' });
  fixture = { host: registry.host, args: () => ['--registry-timeout', '2s'], stop: () => registry.stop() };
  return fixture;
}

interface Mode {
  rules: Omit<FaultRule, 'times'> & { times?: number };
  expect: number;
}

const MODES: Record<string, Mode> = {
  'drop-mid-blob-once': { rules: { method: 'GET', path: BLOBS, fault: { kind: 'drop', afterBytes: 50_000 }, times: 1 }, expect: 0 },
  'drop-mid-blob-forever': { rules: { method: 'GET', path: BLOBS, fault: { kind: 'drop', afterBytes: 1000 } }, expect: 3 },
  '500-once': { rules: { path: MANIFESTS, fault: { kind: 'status', status: 500 }, times: 1 }, expect: 0 },
  '500-forever': { rules: { path: MANIFESTS, fault: { kind: 'status', status: 500 } }, expect: 3 },
  '503-blob-forever': { rules: { path: BLOBS, fault: { kind: 'status', status: 503 } }, expect: 3 },
  '429-retry-after-1-once': { rules: { path: BLOBS, fault: { kind: 'status', status: 429, headers: { 'Retry-After': '1' } }, times: 1 }, expect: 0 },
  '429-retry-after-100000': { rules: { path: MANIFESTS, fault: { kind: 'status', status: 429, headers: { 'Retry-After': '100000' } } }, expect: 3 },
  'corrupt-blob': { rules: { method: 'GET', path: BLOBS, fault: { kind: 'corrupt' } }, expect: 2 },
  'redirect-to-storage': { rules: { method: 'GET', path: BLOBS, fault: { kind: 'redirect' } }, expect: 0 },
  'never-answers-manifest': { rules: { path: MANIFESTS, fault: { kind: 'silent' } }, expect: 124 },
  'never-answers-ping': { rules: { path: /^\/v2\/$/, fault: { kind: 'silent' } }, expect: 124 },
  'byte-a-second-manifest-no-length': { rules: { path: MANIFESTS, fault: { kind: 'trickle', bytesPerSecond: 1, dropLength: true } }, expect: 124 },
  'byte-a-second-blob': { rules: { method: 'GET', path: BLOBS, fault: { kind: 'trickle', bytesPerSecond: 2 } }, expect: 124 },
  'redirect-loop': { rules: { path: MANIFESTS, fault: { kind: 'redirect-loop' } }, expect: 3 },
  'token-loop': { rules: { path: /^\/v2\//, fault: { kind: 'token-loop' } }, expect: 4 },
  '404-manifest': { rules: { path: MANIFESTS, fault: { kind: 'status', status: 404 } }, expect: 2 },
  '401-without-challenge': { rules: { path: MANIFESTS, fault: { kind: 'status', status: 401 } }, expect: 4 },
  'junk-manifest-200': { rules: { path: MANIFESTS, fault: { kind: 'status', status: 200 } }, expect: 2 },
  '400-blob': { rules: { path: BLOBS, fault: { kind: 'status', status: 400 } }, expect: 3 },
};

export const REGISTRY_MODES = Object.keys(MODES);

/** The registry case of `seed`, its mode drawn from `rng` (the case's own, past the family draw); needs startRegistryFixture first. */
export function registryCase(seed: number, rng: Rng): FuzzCase {
  const mutation = rng.pick(REGISTRY_MODES);
  const mode = MODES[mutation]!;
  return {
    seed,
    family: 'registry',
    mutation,
    prepare: async () => {
      if (!fixture) throw new Error('registryCase: no registry fixture running');
      const proxy = await startFaultProxy(fixture.host);
      proxy.rules.push({ times: Infinity, ...mode.rules });
      return { reference: `${proxy.host}/${REPO_REF}`, expectStatus: mode.expect, allowed: [0, 2, 3, 4, 124], cleanup: () => proxy.stop() };
    },
  };
}
