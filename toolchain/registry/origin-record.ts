/**
 * Where a pulled bundle came from, keyed by its bundle.json digest, kept in
 * the cache (`<cache>/registry/origins/<hex>.json`) rather than in the bundle
 * directory so bundles stay exactly bundle.json + files. `push` uses it to
 * mount blobs from the source repository instead of uploading them again.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDigest } from '../digest/digest.ts';
import { writeFileAtomic } from '../fs/atomic.ts';

export interface Origin {
  registry: string;
  repository: string;
}

function recordPath(cacheDir: string, configDigest: string): string {
  const { algorithm, hex } = parseDigest(configDigest);
  return join(cacheDir, 'registry', 'origins', `${algorithm}-${hex}.json`);
}

export async function recordOrigin(cacheDir: string, configDigest: string, origin: Origin): Promise<void> {
  await writeFileAtomic(recordPath(cacheDir, configDigest), JSON.stringify(origin));
}

export async function lookupOrigin(cacheDir: string, configDigest: string): Promise<Origin | undefined> {
  try {
    const parsed = JSON.parse(await readFile(recordPath(cacheDir, configDigest), 'utf8')) as Partial<Origin>;
    return typeof parsed.registry === 'string' && typeof parsed.repository === 'string' ? { registry: parsed.registry, repository: parsed.repository } : undefined;
  } catch {
    // No record (or a damaged one): mounting is an optimisation, not a need.
    return undefined;
  }
}
