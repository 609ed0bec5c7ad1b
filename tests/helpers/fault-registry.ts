/**
 * The fixture the registry fault tests share: a real registry holding one
 * ~100 KB image (hex of seeded bytes, so gzip cannot shrink it to nothing),
 * pushed with skopeo, behind a fault-injecting proxy; a work dir for caches.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeOciLayout, seededBytes, tempDir, type OciLayoutInfo } from './registry-fixtures.ts';
import { startFaultProxy, type FaultProxy } from './registry-fault-proxy.ts';
import { startRegistry, type RegistryServer } from './registry-server.ts';

export interface FaultRegistry {
  registry: RegistryServer;
  proxy: FaultProxy;
  work: string;
  image: OciLayoutInfo;
  /** Forget the previous test's rules and requests. */
  reset(): void;
  stop(): Promise<void>;
}

/** `seed` makes the image's bytes and names the work dir (`registry-SEED`); the image is pushed as `REGISTRY/repository`. */
export async function startFaultRegistry(seed: string, repository: string): Promise<FaultRegistry> {
  const registry = await startRegistry({ kind: 'open' });
  const proxy = await startFaultProxy(registry.host);
  const work = tempDir(`registry-${seed}`);
  const image = makeOciLayout(join(work, 'layout'), { content: seededBytes(seed, 100_000).toString('hex') });
  execFileSync('skopeo', ['copy', '--dest-tls-verify=false', `oci:${image.dir}:latest`, `docker://${registry.host}/${repository}`], { stdio: 'pipe' });
  return {
    registry, proxy, work, image,
    reset: () => {
      proxy.rules.length = 0;
      proxy.seen.length = 0;
    },
    stop: async () => {
      await proxy.stop();
      await registry.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
