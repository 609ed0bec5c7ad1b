import { BadInputError } from '../errors/errors.ts';
import { formatPlatform, type Descriptor, type Platform } from './descriptor.ts';
import type { ImageIndex } from './manifest.ts';

/** Pick the manifest for `want` from an index; the error lists what is there. */
export function selectPlatform(index: ImageIndex, want: Platform, where: string): Descriptor {
  const candidates = index.manifests.filter((m) => m.platform);
  const match = candidates.find(
    (m) =>
      m.platform!.os === want.os &&
      m.platform!.architecture === want.architecture &&
      (want.variant === undefined || m.platform!.variant === want.variant),
  );
  if (match) return match;
  // An index without platform fields (common in OCI layouts) with one manifest means that one.
  if (candidates.length === 0 && index.manifests.length === 1) return index.manifests[0];
  const available = [...new Set(candidates.map((m) => formatPlatform(m.platform!)))];
  throw new BadInputError(`${where} has no image for platform ${formatPlatform(want)}`, {
    hint: available.length ? `available platforms: ${available.join(', ')}; choose one with --platform` : 'the index lists no platforms',
  });
}
