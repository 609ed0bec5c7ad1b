import { BadInputError } from '../errors/errors.ts';
import { isRecord, parseDescriptor, type Descriptor } from './descriptor.ts';
import { MediaType, isIndexType, layerCompression } from './media-types.ts';
import { parseJsonObject } from './json-document.ts';

export { MAX_MANIFEST_BYTES } from './json-document.ts';

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * Parse an index or image manifest. `declaredType` is the media type from the
 * descriptor or Content-Type that led here, used when the document omits its own.
 */
export function parseManifestOrIndex(bytes: Buffer, where: string, declaredType?: string): ImageIndex | ImageManifest {
  const doc = parseJsonObject(bytes, where);
  const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : declaredType;
  if (doc.schemaVersion === 1 || mediaType === MediaType.dockerManifestV1 || mediaType === MediaType.dockerManifestV1Signed) {
    throw new BadInputError(`${where} is a Docker schema 1 manifest, which is deprecated and unsupported`, {
      hint: 're-push the image with a current Docker or skopeo to get a schema 2 / OCI manifest',
    });
  }
  if (doc.schemaVersion !== 2) throw new BadInputError(`${where}: unsupported schemaVersion ${JSON.stringify(doc.schemaVersion)}`);
  if (isIndexType(mediaType) || (mediaType === undefined && Array.isArray(doc.manifests))) {
    if (!Array.isArray(doc.manifests)) throw new BadInputError(`${where}: index has no manifests array`);
    return {
      kind: 'index',
      mediaType: mediaType ?? MediaType.ociIndex,
      manifests: doc.manifests.map((m, i) => parseDescriptor(m, `${where} manifests[${i}]`)),
    };
  }
  if (!Array.isArray(doc.layers)) throw new BadInputError(`${where}: manifest has no layers array`);
  const manifest: ImageManifest = {
    kind: 'manifest',
    mediaType: mediaType ?? MediaType.ociManifest,
    config: parseDescriptor(doc.config, `${where} config`),
    layers: doc.layers.map((l, i) => parseDescriptor(l, `${where} layers[${i}]`)),
  };
  if (typeof doc.artifactType === 'string') manifest.artifactType = doc.artifactType;
  if (isRecord(doc.annotations)) manifest.annotations = doc.annotations as Record<string, string>;
  return manifest;
}

/** A manifest we can build from: every layer is a tar we know how to read. */
export function assertBuildableImage(manifest: ImageManifest, where: string): void {
  manifest.layers.forEach((l, i) => {
    if (layerCompression(l.mediaType) === undefined) {
      throw new BadInputError(`${where}: layer ${i} (${l.digest}) has media type '${l.mediaType}', which is not an image layer`, {
        hint: manifest.artifactType ? `this looks like an artifact of type ${manifest.artifactType}, not a container image` : undefined,
      });
    }
  });
}
