/**
 * Where hyperbuild's cache lives by default (XDG base directory rules).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$XDG_CACHE_HOME/hyperbuild`, else `~/.cache/hyperbuild`; `--cache-dir` overrides. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'hyperbuild');
}
