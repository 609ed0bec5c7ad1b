/**
 * Flags every registry command shares, spelled like skopeo's
 * (`--tls-verify=false`, `--ca-file`), and their translation to client options.
 */
import { Flags } from '@oclif/core';
import { parseDurationMs } from '../boot/duration.ts';
import { BadInputError } from '../errors/errors.ts';
import type { RegistryOptions } from './client.ts';
import { DEFAULT_REGISTRY_TIMEOUT_MS } from './deadlines.ts';

export const registryFlags = {
  'tls-verify': Flags.string({
    description: 'verify the registry TLS certificate (false: accept any certificate from it)',
    options: ['true', 'false'],
    default: 'true',
    helpGroup: 'REGISTRY',
  }),
  'ca-file': Flags.string({ description: 'PEM file with CA certificates to trust for the registry', helpGroup: 'REGISTRY' }),
  'plain-http': Flags.boolean({ description: 'use plain HTTP (loopback registries fall back to it on their own)', helpGroup: 'REGISTRY' }),
  'docker-config': Flags.string({ description: 'Docker config.json with credentials (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)', helpGroup: 'REGISTRY' }),
  'registry-timeout': Flags.string({
    description: 'give up on a registry operation (its retries included) after this long: 30s, 2m, 500ms; a third of it for each connect, first byte and silence mid-body; a blob gets this plus its size at 64 KiB/s',
    default: `${DEFAULT_REGISTRY_TIMEOUT_MS / 1000}s`,
    helpGroup: 'REGISTRY',
  }),
};

/** `--registry-timeout D` in ms; refused when it is not a duration or is zero. */
export function registryTimeoutMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDurationMs(text, '--registry-timeout');
  } catch (err) {
    throw err instanceof BadInputError ? err.withHint('give a duration like 30s (the default), 500ms or 2m') : err;
  }
  if (ms < 10) throw new BadInputError(`--registry-timeout '${text}' is too short to reach any registry`, { hint: 'give a duration like 30s (the default) or 2m' });
  return ms;
}

export function registryOptions(
  flags: { 'tls-verify': string; 'ca-file'?: string; 'plain-http': boolean; 'docker-config'?: string; 'registry-timeout'?: string },
  log?: (line: string) => void,
): RegistryOptions {
  return {
    timeoutMs: registryTimeoutMs(flags['registry-timeout']),
    tlsVerify: flags['tls-verify'] !== 'false',
    caFile: flags['ca-file'],
    plainHttp: flags['plain-http'],
    dockerConfig: flags['docker-config'],
    log,
  };
}

/** `https://host:5000/v2/` → `host:5000`; login takes what people paste. */
export function registryHostArgument(input: string): string {
  const trimmed = input.trim().replace(/^[a-z]+:\/\//i, '');
  const host = trimmed.split('/')[0] ?? '';
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}
