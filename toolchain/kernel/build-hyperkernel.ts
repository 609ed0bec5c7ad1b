/**
 * Runs kernel/build.sh (the one build recipe, shared with `make kernel`) and
 * streams its output as progress lines (`kernelBuildProgress` thins kbuild's
 * thousands of lines to a few). The script owns the cache write and the
 * skip-when-cached check; this module only drives it and reports.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { HyperbuildError } from '../errors/errors.ts';
import { hyperKernelKey, kernelSourceDir, readHyperKernelKeyInputs } from './cache-key.ts';
import { readCachedKernel, type CachedKernelEntry } from './kernel-cache.ts';

export interface BuildHyperKernelOptions {
  cacheDir: string;
  force?: boolean;
  /** Every output line of the build (kbuild's "CC ..." lines included). */
  onLine?: (line: string) => void;
}

/** Roughly how long a HyperKernel build takes on the 2-core machines this project is measured on. */
export const HYPERKERNEL_BUILD_ESTIMATE = 'about 20 minutes on 2 cores';

/** One progress line per this many compiled objects when not verbose: alive, not noisy. */
const COMPILE_PROGRESS_EVERY = 100;

/**
 * An `onLine` for buildHyperKernel that passes on build.sh's own steps and
 * errors, and counts compiled objects instead of showing each one
 * (`verbose`: every line).
 */
export function kernelBuildProgress(emit: (line: string) => void, verbose = false): (line: string) => void {
  let compiled = 0;
  return (line) => {
    if (verbose) return emit(line);
    if (/^\s+(CC|AS|LD|AR|HOSTCC)\s/.test(line)) {
      if (++compiled % COMPILE_PROGRESS_EVERY === 0) emit(`hyperkernel: ${compiled} objects built`);
      return;
    }
    if (/^(hyperkernel|check-config):|error/i.test(line)) emit(line);
  };
}

/** Lines kept for the error message when the build fails (check-config names the symbol there). */
const TAIL_LINES = 15;

export async function buildHyperKernel(opts: BuildHyperKernelOptions): Promise<CachedKernelEntry & { seconds: number }> {
  const script = join(kernelSourceDir(), 'build.sh');
  const started = process.hrtime.bigint();
  const tail: string[] = [];
  const child = spawn(script, opts.force ? ['--force'] : [], {
    env: { ...process.env, HYPERBUILD_KERNEL_CACHE_DIR: opts.cacheDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  const pump = (stream: NodeJS.ReadableStream) =>
    new Promise<void>((resolve) => {
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => {
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        opts.onLine?.(line);
      });
      rl.once('close', resolve);
    });
  await Promise.all([pump(child.stdout), pump(child.stderr)]);
  const { code, error } = await exited;
  if (error) {
    throw new HyperbuildError(`cannot run ${script}: ${error.code ?? error.message}`, { hint: 'run from a hyperbuild checkout that has kernel/build.sh', cause: error });
  }
  if (code !== 0) {
    const detail = tail.filter((l) => /error|check-config|\*\*\*/i.test(l)).slice(-5).join('\n  ') || tail.slice(-5).join('\n  ');
    throw new HyperbuildError(`HyperKernel build failed (exit ${code}):\n  ${detail}`, {
      hint: 'needs linux-source-6.1, build-essential, flex, bison, bc, libelf-dev, libssl-dev; rerun `make kernel` to see the full log',
    });
  }
  const key = hyperKernelKey(await readHyperKernelKeyInputs());
  const entry = await readCachedKernel(opts.cacheDir, key);
  if (!entry) throw new HyperbuildError(`kernel/build.sh succeeded but ${key} is not in the cache`, { hint: 'report this: build.sh and cache-key.ts disagree on the key' });
  return { ...entry, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}
