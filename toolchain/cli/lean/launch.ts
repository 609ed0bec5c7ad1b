/**
 * What bin/hyperbuild runs (bundled to dist/lean/launch.js, CommonJS): `build`
 * and `boot` go to the lean CLI (main.ts), one CommonJS bundle compiled through
 * the V8 code cache (code-cache.ts) — no ES module graph to resolve and link,
 * no parse of what the command does not run; every other command, and each
 * command line the lean CLI declines, to the full oclif CLI (dist/hyperbuild.js,
 * an ES module).
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { defaultCacheDir } from '../../cache/cache-dir.ts';
import { loadBundle } from './code-cache.ts';
import { capYoungGeneration, restoreDefaultFlags } from './young-generation.ts';

/** The commands main.ts runs (its LEAN_COMMANDS; tests/lean-launch.test.ts keeps the two equal). */
export const LEAN_COMMAND_IDS: readonly string[] = ['build', 'boot'];

/** The cache dir the command will use: `--cache-dir DIR` / `--cache-dir=DIR` before any `--`, else the default. */
export function codeCacheDir(argv: string[], env: NodeJS.ProcessEnv = process.env): string {
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === '--cache-dir' && i + 1 < argv.length) return resolve(argv[i + 1]);
    if (argv[i].startsWith('--cache-dir=')) return resolve(argv[i].slice('--cache-dir='.length));
  }
  return defaultCacheDir(env);
}

type RunLean = (argv: string[], env: NodeJS.ProcessEnv, beforeRun: (id: string) => void) => Promise<boolean>;

/** What a command needs before it runs: a build, a young generation that stays small (young-generation.ts). */
function prepareRun(id: string): void {
  if (id === 'build') capYoungGeneration();
}

/** Run the command line `argv` (command id first); `distDir` holds hyperbuild.js and lean/. */
export async function launch(argv: string[], distDir: string): Promise<void> {
  if (LEAN_COMMAND_IDS.includes(argv[0])) {
    const lean = loadBundle(join(distDir, 'lean', 'main.js'), codeCacheDir(argv), argv[0]);
    const ran = await (lean.exports.runLean as RunLean)(argv, process.env, prepareRun);
    // After the command's own exit listeners (boot --verbose measures up to its own); with V8's
    // flags as at start, which V8 stamps on the code cache and checks against the next start's.
    process.once('exit', () => {
      restoreDefaultFlags();
      lean.save();
    });
    if (ran) return;
    prepareRun(argv[0]);
  }
  const { main } = (await import(pathToFileURL(join(distDir, 'hyperbuild.js')).href)) as { main: () => Promise<void> };
  await main();
}
