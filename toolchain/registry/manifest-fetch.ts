/**
 * GET and PUT of manifests. A manifest's digest is computed over the exact
 * bytes we received, and checked against the digest we asked for, so a
 * pinned reference (`@sha256:`) can never be answered with something else.
 */
import { BadInputError, HyperbuildError, RegistryError } from '../errors/errors.ts';
import { sha256Digest } from '../digest/digest.ts';
import { pullScope, pushScope } from './auth.ts';
import type { RegistryClient } from './client.ts';
import { asRegistryError } from './registry-error.ts';
import { MAX_MANIFEST_BYTES } from '../image/json-document.ts';
import { parseManifest, type ParsedManifest } from '../image/manifest.ts';
import { ACCEPTED_MANIFEST_TYPES } from '../image/media-types.ts';

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  parsed: ParsedManifest;
}

export async function fetchManifest(client: RegistryClient, repository: string, reference: string): Promise<FetchedManifest> {
  const what = `fetching manifest ${client.registry}/${repository}${reference.includes(':') ? '@' : ':'}${reference}`;
  const res = await client.send({
    method: 'GET',
    path: `/v2/${repository}/manifests/${reference}`,
    scopes: [pullScope(repository)],
    headers: { Accept: ACCEPTED_MANIFEST_TYPES.join(', ') },
    what,
  });
  await client.expect(res, [200], what);
  const declared = Number(res.headers['content-length']);
  if (declared > MAX_MANIFEST_BYTES) {
    res.body.destroy();
    throw new BadInputError(`${what}: the manifest is ${declared} bytes, more than the ${MAX_MANIFEST_BYTES}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_MANIFEST_BYTES) throw new BadInputError(`${what}: the manifest is more than the ${MAX_MANIFEST_BYTES}-byte limit`);
      chunks.push(chunk);
    }
  } catch (err) {
    res.body.destroy();
    if (err instanceof HyperbuildError) throw err;
    throw asRegistryError(err, what, client.registry);
  }
  const bytes = Buffer.concat(chunks);
  const digest = sha256Digest(bytes);
  if (reference.includes(':') && reference !== digest) {
    throw new BadInputError(`${what}: the registry sent a manifest with digest ${digest}, not the one asked for`);
  }
  const headerDigest = res.headers['docker-content-digest'];
  if (typeof headerDigest === 'string' && headerDigest.startsWith('sha256:') && headerDigest !== digest) {
    throw new BadInputError(`${what}: the manifest bytes hash to ${digest} but the registry says ${headerDigest}`);
  }
  const contentType = typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : undefined;
  const parsed = parseManifest(bytes, contentType, `${client.registry}/${repository}@${digest}`);
  const mediaType = parsed.kind === 'image' ? parsed.manifest.mediaType : parsed.index.mediaType;
  return { digest, mediaType, bytes, parsed };
}

/** PUT a manifest under a tag or digest; returns its digest. */
export async function putManifest(client: RegistryClient, repository: string, reference: string, mediaType: string, bytes: Buffer): Promise<string> {
  const digest = sha256Digest(bytes);
  const what = `pushing manifest ${client.registry}/${repository}:${reference}`;
  const res = await client.send({
    method: 'PUT',
    path: `/v2/${repository}/manifests/${reference}`,
    scopes: [pushScope(repository)],
    headers: { 'Content-Type': mediaType },
    body: bytes,
    what,
  });
  await client.expect(res, [200, 201], what);
  res.body.resume();
  const echoed = res.headers['docker-content-digest'];
  if (typeof echoed === 'string' && echoed.startsWith('sha256:') && echoed !== digest) {
    throw new RegistryError(`${what}: the registry stored it as ${echoed}, expected ${digest}`, { hint: 'the registry rewrote the manifest; pull by tag will not be reproducible' });
  }
  return digest;
}
