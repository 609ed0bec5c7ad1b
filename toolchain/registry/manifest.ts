import { BadInputError } from '../errors/errors.ts';
import { parseDigest } from '../digest/digest.ts';
import { DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED, OCI_INDEX, OCI_MANIFEST } from './media-types.ts';
import type { Platform } from './platform.ts';

/**
 * Manifests as read from a registry: OCI image manifest and index, Docker
 * schema 2 manifest and manifest list. Everything is checked before use
 * (digests, sizes, types), since a registry's answer is untrusted input.
 */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform & { 'os.version'?: string; features?: string[] };
  artifactType?: string;
  urls?: string[];
}

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

/** Bigger than any real manifest; keeps a hostile registry from filling memory. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function descriptor(v: unknown, label: string): Descriptor {
  if (!isObject(v)) throw new BadInputError(`${label} is not a descriptor object`);
  if (typeof v.mediaType !== 'string' || v.mediaType.length === 0) throw new BadInputError(`${label} has no mediaType`);
  if (typeof v.digest !== 'string') throw new BadInputError(`${label} has no digest`);
  parseDigest(v.digest, `digest of ${label}`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw new BadInputError(`${label} has an invalid size`);
  if (v.annotations !== undefined && !isObject(v.annotations)) throw new BadInputError(`${label} has invalid annotations`);
  if (v.platform !== undefined && (!isObject(v.platform) || typeof v.platform.os !== 'string' || typeof v.platform.architecture !== 'string')) {
    throw new BadInputError(`${label} has an invalid platform`);
  }
  return v as unknown as Descriptor;
}

/** Strip `; charset=...` and similar. */
function bareType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0]?.trim().toLowerCase() || undefined;
}

export function parseManifest(bytes: Buffer, contentType: string | undefined, label: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BadInputError(`${label}: the manifest is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(json)) throw new BadInputError(`${label}: the manifest is not a JSON object`);
  const declared = typeof json.mediaType === 'string' ? json.mediaType : bareType(contentType);
  if (json.schemaVersion === 1 || declared === DOCKER_SCHEMA1 || declared === DOCKER_SCHEMA1_SIGNED) {
    throw new BadInputError(`${label} uses Docker image manifest schema 1, which is deprecated and not supported`, {
      hint: 'push the image again with a current Docker, Podman or skopeo (skopeo copy converts it to schema 2)',
    });
  }
  if (json.schemaVersion !== 2) throw new BadInputError(`${label}: unsupported manifest schemaVersion ${JSON.stringify(json.schemaVersion)}`);
  const isIndex = declared === OCI_INDEX || declared === DOCKER_MANIFEST_LIST || (declared === undefined && Array.isArray(json.manifests));
  if (isIndex) {
    if (!Array.isArray(json.manifests)) throw new BadInputError(`${label}: the index has no manifests list`);
    const manifests = json.manifests.map((m, i) => descriptor(m, `${label} manifests[${i}]`));
    return { kind: 'index', index: { ...(json as object), schemaVersion: 2, mediaType: declared ?? OCI_INDEX, manifests } as ImageIndex };
  }
  const isImage = declared === OCI_MANIFEST || declared === DOCKER_MANIFEST || (declared === undefined && isObject(json.config));
  if (!isImage) throw new BadInputError(`${label}: unsupported manifest media type '${String(declared).slice(0, 100)}'`);
  const config = descriptor(json.config, `${label} config`);
  if (!Array.isArray(json.layers)) throw new BadInputError(`${label}: the manifest has no layers list`);
  const layers = json.layers.map((l, i) => descriptor(l, `${label} layers[${i}]`));
  return { kind: 'image', manifest: { ...(json as object), schemaVersion: 2, mediaType: declared ?? OCI_MANIFEST, config, layers } as ImageManifest };
}
