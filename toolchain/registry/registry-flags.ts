/**
 * Flags every registry command shares, spelled like skopeo's
 * (`--tls-verify=false`, `--ca-file`), and their translation to client options.
 */
import { Flags } from '@oclif/core';
import type { RegistryOptions } from './client.ts';

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
};

export function registryOptions(flags: { 'tls-verify': string; 'ca-file'?: string; 'plain-http': boolean; 'docker-config'?: string }, log?: (line: string) => void): RegistryOptions {
  return {
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
