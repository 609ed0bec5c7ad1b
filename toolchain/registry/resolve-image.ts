/**
 * Reference → one image manifest: an index or manifest list is narrowed to
 * the requested platform; a plain manifest is taken as it is.
 */
import { BadInputError } from '../errors/errors.ts';
import { assertDescribedAs, type ImageManifest } from '../image/manifest.ts';
import type { Platform } from '../image/platform.ts';
import { selectPlatform } from '../image/platform-select.ts';
import type { RegistryClient } from './client.ts';
import type { FetchedManifest } from './manifest-fetch.ts';
import { fetchManifest } from './manifest-fetch.ts';

export interface ResolvedImage {
  /** What the reference points at (an index, or the manifest itself). */
  top: FetchedManifest;
  /** The image manifest for the platform. */
  image: FetchedManifest & { manifest: ImageManifest };
}

export async function resolveImage(client: RegistryClient, repository: string, reference: string, platform: Platform): Promise<ResolvedImage> {
  const top = await fetchManifest(client, repository, reference);
  if (top.parsed.kind === 'image') return { top, image: { ...top, manifest: top.parsed.manifest } };
  const chosen = selectPlatform(top.parsed.index, platform, `${client.registry}/${repository}:${reference}`);
  const child = await fetchManifest(client, repository, chosen.digest);
  assertDescribedAs(child.parsed, chosen.mediaType, `${client.registry}/${repository}@${chosen.digest}`);
  if (child.parsed.kind !== 'image') {
    throw new BadInputError(`${client.registry}/${repository}@${chosen.digest} is an index inside an index, which hyperbuild does not follow`);
  }
  return { top, image: { ...child, manifest: child.parsed.manifest } };
}
