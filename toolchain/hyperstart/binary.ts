/**
 * Finding HyperStart's static binary (`make hyperstart`) from the package root, in dist/ or in the sources.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HyperbuildError } from '../errors/errors.ts';

/** The package root: the nearest directory above this module with our package.json (works from dist/ and from source). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'initramfs'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new HyperbuildError('cannot find the hyperbuild package root (package.json beside initramfs/)');
    dir = up;
  }
}

/** Where the static HyperStart built by `make hyperstart` is; HYPERSTART_BINARY overrides. */
export function hyperStartBinaryPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.HYPERSTART_BINARY || join(packageRoot(), 'initramfs', 'hyperstart', 'out', 'hyperstart');
}

/** The HyperStart binary every bundle carries. */
export async function loadHyperStartBinary(env: NodeJS.ProcessEnv = process.env): Promise<{ path: string; bytes: Buffer }> {
  const path = hyperStartBinaryPath(env);
  try {
    return { path, bytes: await readFile(path) };
  } catch {
    throw new HyperbuildError(`HyperStart is not built (no ${path})`, { hint: 'run `make hyperstart` (needs musl-tools: apt-get install musl-tools)' });
  }
}
