/**
 * Maps an image reference's transport to the image source that reads it.
 */
import { AciSource, type AciSourceOptions } from './aci-source.ts';
import { DockerArchiveSource, OciArchiveSource } from './archive-sources.ts';
import type { ImageSource } from './image-source.ts';
import { OciLayoutSource } from './oci-layout.ts';
import { parseImageReference } from './reference.ts';
import { RegistryImageSource } from './registry-image-source.ts';
import type { RegistryOptions } from '../registry/client.ts';

/** The one place that maps a reference's transport to its source. */
export function openImageSource(reference: string, options: { aci?: AciSourceOptions; registry?: RegistryOptions } = {}): ImageSource {
  const ref = parseImageReference(reference);
  switch (ref.transport) {
    case 'oci':
      return new OciLayoutSource(ref);
    case 'oci-archive':
      return new OciArchiveSource(ref);
    case 'docker-archive':
      return new DockerArchiveSource(ref);
    case 'aci':
      return new AciSource(ref, options.aci);
    case 'registry':
      return new RegistryImageSource(ref, options.registry);
  }
}
