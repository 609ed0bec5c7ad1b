/**
 * Credentials live where Docker, Podman, skopeo and oras look for them:
 * `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, so a `docker login`
 * works for hyperbuild and a `hyperbuild login` works for them.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BadInputError } from '../errors/errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { helperErase, helperGet, helperStore } from './credential-helper.ts';
import { DOCKER_HUB } from './reference.ts';

export interface Credentials {
  username: string;
  password: string;
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

/** Docker Hub's credentials are filed under its legacy v1 URL. */
export function credentialKey(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

async function readConfig(path: string): Promise<DockerConfigFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as DockerConfigFile;
  } catch (err) {
    throw new BadInputError(`cannot parse ${path}: ${(err as Error).message}`, { hint: 'fix or remove the file, then log in again' });
  }
}

/** Keys that may name this registry in `auths` (Docker has written all of these). */
function candidateKeys(registry: string): string[] {
  const key = credentialKey(registry);
  return [key, `https://${key}`, `http://${key}`, `https://${key}/v1/`, `https://${key}/v2/`];
}

function decodeAuth(registry: string, entry: { auth?: string; username?: string; password?: string }): Credentials | undefined {
  if (entry.auth) {
    const text = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) throw new BadInputError(`the saved credentials for ${registry} are malformed (no ':' in auth)`, { hint: `run 'hyperbuild login ${registry}' again` });
    return { username: text.slice(0, colon), password: text.slice(colon + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return undefined;
}

export async function lookupCredentials(registry: string, configPath = dockerConfigPath()): Promise<Credentials | undefined> {
  const config = await readConfig(configPath);
  const key = credentialKey(registry);
  const helper = config.credHelpers?.[key] ?? config.credHelpers?.[registry] ?? config.credsStore;
  if (helper) {
    const got = await helperGet(helper, key);
    if (got) return { username: got.Username, password: got.Secret };
    // credsStore is a default; an inline entry may still exist for this host.
    if (config.credHelpers?.[key]) return undefined;
  }
  for (const candidate of candidateKeys(registry)) {
    const entry = config.auths?.[candidate];
    if (entry) return decodeAuth(registry, entry);
  }
  return undefined;
}

async function writeConfig(path: string, config: DockerConfigFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // Passwords inside: owner-only from the first byte, and all-or-nothing so a crash never leaves half a file.
  await writeFileAtomic(path, `${JSON.stringify(config, null, '\t')}\n`, { mode: 0o600 });
}

/** Save credentials the way Docker would: helper if configured, else base64 in `auths`. */
export async function storeCredentials(registry: string, creds: Credentials, configPath = dockerConfigPath()): Promise<'helper' | 'file'> {
  const config = await readConfig(configPath);
  const key = credentialKey(registry);
  const helper = config.credHelpers?.[key] ?? config.credsStore;
  config.auths ??= {};
  if (helper) {
    await helperStore(helper, key, { Username: creds.username, Secret: creds.password });
    // Docker keeps an empty entry so `docker login` listings show the host.
    config.auths[key] = {};
    await writeConfig(configPath, config);
    return 'helper';
  }
  config.auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  await writeConfig(configPath, config);
  return 'file';
}

/** true when something was removed. */
export async function eraseCredentials(registry: string, configPath = dockerConfigPath()): Promise<boolean> {
  const config = await readConfig(configPath);
  const key = credentialKey(registry);
  const helper = config.credHelpers?.[key] ?? config.credsStore;
  let removed = false;
  if (helper) {
    await helperErase(helper, key);
    removed = true;
  }
  for (const candidate of candidateKeys(registry)) {
    if (config.auths?.[candidate]) {
      delete config.auths[candidate];
      removed = true;
    }
  }
  if (removed) await writeConfig(configPath, config);
  return removed;
}
