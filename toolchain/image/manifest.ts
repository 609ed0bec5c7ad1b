/**
 * OCI image manifest and index, Docker schema 2 manifest and manifest list,
 * from any source (registry, layout, archive). Everything is checked before
 * use (digests, sizes, types), since the document is untrusted input. Fields
 * we do not check (subject, urls, ...) are kept, so push and inspect see them.
 */
import { BadInputError } from '../errors/errors.ts';
import { parseDescriptor, type Descriptor } from './descriptor.ts';
import { isRecord, parseJsonObject } from './json-document.ts';
import { MediaType, isImageConfigType, isImageManifestType, isIndexType, layerCompression } from './media-types.ts';

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export type ParsedManifest = { kind: 'image'; manifest: ImageManifest } | { kind: 'index'; index: ImageIndex };

/** Strip `; charset=...` and similar. */
function bareType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
}

/**
 * Parse an index or image manifest. `contentType` is the Content-Type or the
 * descriptor's media type that led here, used when the document omits its own;
 * `label` names the document in errors.
 */
export function parseManifest(bytes: Buffer, contentType: string | undefined, label: string): ParsedManifest {
  const json = parseJsonObject(bytes, label);
  const declared = typeof json.mediaType === 'string' ? json.mediaType : bareType(contentType);
  if (json.schemaVersion === 1 || declared === MediaType.dockerManifestV1 || declared === MediaType.dockerManifestV1Signed) {
    throw new BadInputError(`${label} uses Docker image manifest schema 1, which is deprecated and not supported`, {
      hint: 'push the image again with a current Docker, Podman or skopeo (skopeo copy converts it to schema 2)',
    });
  }
  if (json.schemaVersion !== 2) throw new BadInputError(`${label}: unsupported manifest schemaVersion ${JSON.stringify(json.schemaVersion)}`);
  if (isIndexType(declared) || (declared === undefined && Array.isArray(json.manifests))) {
    if (!Array.isArray(json.manifests)) throw new BadInputError(`${label}: the index has no manifests list`);
    const manifests = json.manifests.map((m, i) => parseDescriptor(m, `${label} manifests[${i}]`));
    return { kind: 'index', index: { ...json, schemaVersion: 2, mediaType: declared ?? MediaType.ociIndex, manifests } as ImageIndex };
  }
  if (!isImageManifestType(declared) && !(declared === undefined && isRecord(json.config))) {
    throw new BadInputError(`${label}: unsupported manifest media type '${String(declared).slice(0, 100)}'`);
  }
  const config = parseDescriptor(json.config, `${label} config`);
  if (!Array.isArray(json.layers)) throw new BadInputError(`${label}: the manifest has no layers list`);
  const layers = json.layers.map((l, i) => parseDescriptor(l, `${label} layers[${i}]`));
  return { kind: 'image', manifest: { ...json, schemaVersion: 2, mediaType: declared ?? MediaType.ociManifest, config, layers } as ImageManifest };
}

/**
 * The descriptor that led to a document must say what it is: an index entry
 * labelled as a layer or config, or a manifest where an index was promised
 * (or the reverse), is refused rather than followed.
 */
export function assertDescribedAs(parsed: ParsedManifest, descriptorType: string, where: string): void {
  const is = parsed.kind === 'index' ? 'an image index' : 'an image manifest';
  const promised = isIndexType(descriptorType) ? 'index' : isImageManifestType(descriptorType) ? 'image' : undefined;
  if (promised === parsed.kind) return;
  throw new BadInputError(`${where}: its descriptor says media type '${descriptorType.slice(0, 100)}' but it is ${is}`, {
    hint: 'descriptors must give the media type of what they point at; fix the index or manifest that names it',
  });
}

/** A manifest we can build from: an image config, and every layer a tar we know how to read. */
export function assertBuildableImage(manifest: ImageManifest, where: string): void {
  if (!isImageConfigType(manifest.config.mediaType)) {
    throw new BadInputError(`${where}: the config has media type '${manifest.config.mediaType.slice(0, 100)}', not an image config`, {
      hint: manifest.artifactType ? `this looks like an artifact of type ${manifest.artifactType}, not a container image` : `a container image's config is ${MediaType.ociConfig} (or Docker's)`,
    });
  }
  manifest.layers.forEach((l, i) => {
    if (layerCompression(l.mediaType) === undefined) {
      throw new BadInputError(`${where}: layer ${i} (${l.digest}) has media type '${l.mediaType}', which is not an image layer`, {
        hint: manifest.artifactType ? `this looks like an artifact of type ${manifest.artifactType}, not a container image` : undefined,
      });
    }
  });
}
