import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleManifest } from '../bundle/manifest.ts';
import { BUNDLE_MANIFEST_NAME, BUNDLE_MEDIA_TYPE, BUNDLE_SCHEMA_VERSION } from '../bundle/manifest.ts';
import { parseDigest, sha256Digest, verifyStream } from '../digest/digest.ts';
import { BadInputError } from '../errors/errors.ts';
import { Annotation } from '../image/annotations.ts';
import type { Descriptor } from '../image/descriptor.ts';
import { MediaType } from '../image/media-types.ts';
import { ANNOTATION_KERNEL_RELEASE, ANNOTATION_PLATFORM, BUNDLE_ARTIFACT_TYPE, BUNDLE_CONFIG, initramfsLayerType, KERNEL_LAYER, rootfsLayerType } from './media-types.ts';
import { isRecord } from '../image/json-document.ts';

/**
 * The mapping between a bundle directory and its OCI artifact (see README.md):
 * bundle.json is the config blob, byte for byte; kernel, initramfs and rootfs
 * are layers titled with their file names. The manifest is built only from
 * the bundle, so pushing the same bundle twice gives the same digest.
 */
export interface BundleFileEntry {
  role: 'kernel' | 'initramfs' | 'rootfs';
  name: string;
  digest: string;
  size: number;
  mediaType: string;
}

export interface BundleArtifact {
  bundle: BundleManifest;
  configBytes: Buffer;
  configDigest: string;
  files: (BundleFileEntry & { path: string })[];
  manifestBytes: Buffer;
  manifestDigest: string;
}

function fileEntry(role: BundleFileEntry['role'], v: unknown, mediaType: (f: Record<string, unknown>) => string, label: string): BundleFileEntry {
  if (!isRecord(v)) throw new BadInputError(`${label}: '${role}' is missing or not an object`);
  const { name, digest, size } = v;
  // Names become paths when pulled: one plain component, nothing else.
  if (typeof name !== 'string' || !/^[A-Za-z0-9._+-]+$/.test(name) || name === '.' || name === '..' || name === BUNDLE_MANIFEST_NAME) {
    throw new BadInputError(`${label}: ${role}.name '${String(name).slice(0, 100)}' is not a plain file name`);
  }
  if (typeof digest !== 'string') throw new BadInputError(`${label}: ${role}.digest is missing`);
  parseDigest(digest, `${role} digest in ${label}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new BadInputError(`${label}: ${role}.size is invalid`);
  return { role, name, digest, size, mediaType: mediaType(v) };
}

/** Check bundle.json's shape (it may come from a registry) and list its files. */
export function bundleFiles(json: unknown, label: string): { bundle: BundleManifest; files: BundleFileEntry[] } {
  if (!isRecord(json)) throw new BadInputError(`${label} is not a JSON object`);
  if (json.mediaType !== BUNDLE_MEDIA_TYPE || json.schemaVersion !== BUNDLE_SCHEMA_VERSION) {
    throw new BadInputError(`${label} is not a version ${BUNDLE_SCHEMA_VERSION} hyperbuild bundle.json (mediaType ${JSON.stringify(json.mediaType)}, schemaVersion ${JSON.stringify(json.schemaVersion)})`, {
      hint: 'a newer hyperbuild may be needed to read it',
    });
  }
  const files = [
    fileEntry('kernel', json.kernel, () => KERNEL_LAYER, label),
    fileEntry(
      'initramfs',
      json.initramfs,
      (f) => {
        if (!['none', 'gzip', 'zstd', 'lz4'].includes(f.compression as string)) throw new BadInputError(`${label}: initramfs.compression ${JSON.stringify(f.compression)} is unknown`);
        return initramfsLayerType(f.compression as 'none' | 'gzip' | 'zstd' | 'lz4');
      },
      label,
    ),
  ];
  if (json.rootfs !== undefined) {
    files.push(
      fileEntry(
        'rootfs',
        json.rootfs,
        (f) => {
          if (f.type !== 'ext4' && f.type !== 'erofs') throw new BadInputError(`${label}: rootfs.type ${JSON.stringify(f.type)} is unknown`);
          return rootfsLayerType(f.type);
        },
        label,
      ),
    );
  }
  const names = new Set(files.map((f) => f.name));
  if (names.size !== files.length) throw new BadInputError(`${label}: two bundle files share a name`);
  return { bundle: json as unknown as BundleManifest, files };
}

/** ISO 8601 without milliseconds, as the OCI annotation examples write it. */
function createdAnnotation(epoch: number | undefined): string | undefined {
  if (epoch === undefined || !Number.isSafeInteger(epoch) || epoch < 0) return undefined;
  return new Date(epoch * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function bundleManifest(bundle: BundleManifest, configBytes: Buffer, files: BundleFileEntry[]): Buffer {
  const layers: Descriptor[] = files.map((f) => ({ mediaType: f.mediaType, digest: f.digest, size: f.size, annotations: { [Annotation.title]: f.name } }));
  const annotations: Record<string, string> = {};
  const created = createdAnnotation(bundle.sourceDateEpoch);
  // No sourceDateEpoch, no created: now() would change the digest on every push.
  if (created) annotations[Annotation.created] = created;
  if (bundle.source?.reference) annotations[Annotation.baseName] = bundle.source.reference;
  if (bundle.source?.manifestDigest) annotations[Annotation.baseDigest] = bundle.source.manifestDigest;
  if (bundle.source?.platform) annotations[ANNOTATION_PLATFORM] = bundle.source.platform;
  if (bundle.kernel?.release) annotations[ANNOTATION_KERNEL_RELEASE] = bundle.kernel.release;
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: BUNDLE_ARTIFACT_TYPE,
    config: { mediaType: BUNDLE_CONFIG, digest: sha256Digest(configBytes), size: configBytes.length },
    layers,
    annotations,
  };
  return Buffer.from(JSON.stringify(manifest));
}

async function verifyFile(path: string, entry: BundleFileEntry, label: string): Promise<void> {
  try {
    for await (const chunk of verifyStream(createReadStream(path), { digest: entry.digest, size: entry.size, label: `${label} ${entry.role} file ${entry.name}` })) void chunk;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BadInputError(`${label}: ${entry.role} file ${entry.name} is missing`);
    throw err;
  }
}

/** Read and verify a bundle directory, and build its OCI manifest. */
export async function readBundleArtifact(dir: string): Promise<BundleArtifact> {
  const label = `bundle ${dir}`;
  let configBytes: Buffer;
  try {
    configBytes = await readFile(join(dir, BUNDLE_MANIFEST_NAME));
  } catch (err) {
    throw new BadInputError(`${dir} is not a bundle directory: cannot read ${BUNDLE_MANIFEST_NAME} (${(err as Error).message})`, { hint: "make one with 'hyperbuild build'" });
  }
  let json: unknown;
  try {
    json = JSON.parse(configBytes.toString('utf8'));
  } catch (err) {
    throw new BadInputError(`${label}: ${BUNDLE_MANIFEST_NAME} is not valid JSON (${(err as Error).message})`);
  }
  const { bundle, files } = bundleFiles(json, `${label} ${BUNDLE_MANIFEST_NAME}`);
  await Promise.all(files.map((f) => verifyFile(join(dir, f.name), f, label)));
  const manifestBytes = bundleManifest(bundle, configBytes, files);
  return {
    bundle,
    configBytes,
    configDigest: sha256Digest(configBytes),
    files: files.map((f) => ({ ...f, path: join(dir, f.name) })),
    manifestBytes,
    manifestDigest: sha256Digest(manifestBytes),
  };
}
