/**
 * Choosing one platform's manifest from an index or manifest list.
 */
import { BadInputError } from '../errors/errors.ts';
import type { Descriptor } from './descriptor.ts';
import type { ImageIndex } from './manifest.ts';
import { formatPlatform, platformMatches, type Platform } from './platform.ts';

/** Pick the manifest for `wanted` from an index; the error lists what is there. */
export function selectPlatform(index: ImageIndex, wanted: Platform, label: string): Descriptor {
  const match = index.manifests.find((m) => m.platform && platformMatches(wanted, m.platform));
  if (match) return match;
  // An index without platform fields (common in OCI layouts) with one manifest
  // means that one; the image config's own platform is still checked after.
  if (index.manifests.length === 1 && !index.manifests[0]!.platform) return index.manifests[0]!;
  // Deduplicated: buildx indexes carry one unknown/unknown attestation per image.
  const available = [...new Set(index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')))];
  throw new BadInputError(`${label} has no image for ${formatPlatform(wanted)} (it has: ${available.join(', ') || 'nothing'})`, {
    hint: 'pick one of those with --platform',
  });
}
