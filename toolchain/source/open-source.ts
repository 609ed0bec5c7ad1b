/**
 * The one place that maps a reference's transport to its source. Sources
 * other than the OCI layout are loaded when a reference needs them: a no-op
 * build of a local layout never parses the registry client, the archive
 * ingester or the ACI reader.
 */
import type { AciSourceOptions } from './aci-source.ts';
import type { ImageSource, ResolveOptions } from './image-source.ts';
import { OciLayoutSource } from './oci-layout.ts';
import { parseImageReference } from './reference.ts';
import type { RegistryOptions } from '../registry/client.ts';

/** A source whose module is imported on first use. */
function lazySource(load: () => Promise<ImageSource>): ImageSource {
  return { resolve: async (opts: ResolveOptions) => (await load()).resolve(opts) };
}

export function openImageSource(reference: string, options: { aci?: AciSourceOptions; registry?: RegistryOptions } = {}): ImageSource {
  const ref = parseImageReference(reference);
  switch (ref.transport) {
    case 'oci':
      return new OciLayoutSource(ref);
    case 'oci-archive':
      return lazySource(async () => new (await import('./archive-sources.ts')).OciArchiveSource(ref));
    case 'docker-archive':
      return lazySource(async () => new (await import('./archive-sources.ts')).DockerArchiveSource(ref));
    case 'aci':
      return lazySource(async () => new (await import('./aci-source.ts')).AciSource(ref, options.aci));
    case 'registry':
      return lazySource(async () => new (await import('./registry-image-source.ts')).RegistryImageSource(ref, options.registry));
  }
}
