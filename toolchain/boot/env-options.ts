/**
 * `-e/--env` and `--env-file`, with Docker's rules: `K=V` sets K; a bare `K`
 * copies K from hyperbuild's own environment and is dropped when unset there;
 * env files hold one such entry per line, `#` starts a comment line.
 */
import { readFileSync } from 'node:fs';
import { BadInputError } from '../errors/errors.ts';

const NAME_RE = /^[^=\0]+$/;

export function parseEnvEntry(entry: string, hostEnv: NodeJS.ProcessEnv, where: string): string | undefined {
  const eq = entry.indexOf('=');
  const name = eq < 0 ? entry : entry.slice(0, eq);
  if (!NAME_RE.test(name) || name.trim() !== name) {
    throw new BadInputError(`${where}: '${entry.slice(0, 80)}' is not NAME=VALUE or NAME`);
  }
  if (entry.includes('\0')) throw new BadInputError(`${where}: '${name}' contains a NUL byte`);
  if (eq >= 0) return entry;
  const value = hostEnv[name];
  return value === undefined ? undefined : `${name}=${value}`;
}

export function readEnvFile(path: string, hostEnv: NodeJS.ProcessEnv): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new BadInputError(`--env-file ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const out: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.replace(/^\s+/, '');
    if (!trimmed || trimmed.startsWith('#')) return;
    const entry = parseEnvEntry(trimmed, hostEnv, `--env-file ${path}:${i + 1}`);
    if (entry !== undefined) out.push(entry);
  });
  return out;
}

/**
 * Image env, then env files, then -e flags; a later NAME replaces an earlier one
 * in place so the order stays stable (as Docker's merge does).
 */
export function mergeEnv(...layers: string[][]): string[] {
  const order: string[] = [];
  const values = new Map<string, string>();
  for (const layer of layers) {
    for (const entry of layer) {
      const eq = entry.indexOf('=');
      const name = eq < 0 ? entry : entry.slice(0, eq);
      if (!values.has(name)) order.push(name);
      values.set(name, entry);
    }
  }
  return order.map((n) => values.get(n)!);
}
