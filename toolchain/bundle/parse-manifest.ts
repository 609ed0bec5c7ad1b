/**
 * The strict parser of bundle.json, the only way any consumer reads one: every
 * field is checked (type, presence, enums, digests, sizes, file names), two
 * files never share a name, and an unknown schemaVersion or mediaType is
 * refused with a hint that a newer hyperbuild may be needed. The result holds
 * only checked fields; unknown ones are dropped, not passed on.
 */
import { BadInputError } from '../errors/errors.ts';
import { isRecord, MAX_MANIFEST_BYTES } from '../image/json-document.ts';
import {
  BUNDLE_MEDIA_TYPE, BUNDLE_SCHEMA_VERSION, bundleFileList, COMPRESSIONS, KERNEL_COMPRESSIONS, KERNEL_FORMATS, KERNEL_KINDS, MAX_KERNEL_BYTES, ROOTFS_TYPES,
  type BundleFile, type BundleKernel, type BundleManifest, type ImageRuntimeConfig,
} from './manifest.ts';
import { describeValue, MANIFEST_HINT, ManifestObject } from './manifest-fields.ts';

const NEWER_HINT = 'a newer hyperbuild may be needed to read this bundle';

function parseJson(bytes: Buffer, label: string): unknown {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new BadInputError(`${label} is ${bytes.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit for manifests`, { hint: MANIFEST_HINT });
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BadInputError(`${label} is not valid JSON: ${(err as Error).message}`, { hint: MANIFEST_HINT });
  }
}

function file(o: ManifestObject): BundleFile {
  return { name: o.fileName('name'), digest: o.digest('digest'), size: o.count('size') };
}

/**
 * A compressed kernel names what it unpacks to (digest, and a size within
 * MAX_KERNEL_BYTES, which bounds the unpacking); an uncompressed one (every
 * bundle before compression existed) has neither field.
 */
function kernelCompression(o: ManifestObject): Pick<BundleKernel, 'compression' | 'uncompressedDigest' | 'uncompressedSize'> {
  if (!o.has('compression')) {
    for (const key of ['uncompressedDigest', 'uncompressedSize']) {
      if (o.has(key)) o.fail(key, `is only for a compressed kernel, and ${o.field('compression')} is missing`);
    }
    return {};
  }
  const compression = o.oneOf('compression', KERNEL_COMPRESSIONS);
  const uncompressedDigest = o.digest('uncompressedDigest');
  const uncompressedSize = o.count('uncompressedSize');
  if (uncompressedSize > MAX_KERNEL_BYTES) o.fail('uncompressedSize', `must be at most ${MAX_KERNEL_BYTES} (256 MiB), not ${uncompressedSize}`);
  return { compression, uncompressedDigest, uncompressedSize };
}

function kernel(o: ManifestObject): BundleKernel {
  const release = o.optional('release', (k) => o.string(k));
  const configDigest = o.optional('configDigest', (k) => o.digest(k));
  return {
    ...file(o),
    kind: o.oneOf('kind', KERNEL_KINDS),
    ...(release !== undefined ? { release } : {}),
    format: o.oneOf('format', KERNEL_FORMATS),
    pvh: o.bool('pvh'),
    ...(configDigest !== undefined ? { configDigest } : {}),
    modular: o.bool('modular'),
    ...kernelCompression(o),
  };
}

function image(o: ManifestObject): ImageRuntimeConfig {
  const stopSignal = o.optional('stopSignal', (k) => o.string(k));
  const portNames = o.optional('portNames', (k) => o.stringMap(k));
  const volumeNames = o.optional('volumeNames', (k) => o.stringMap(k));
  return {
    entrypoint: o.strings('entrypoint'),
    cmd: o.strings('cmd'),
    env: o.strings('env'),
    workingDir: o.string('workingDir'),
    user: o.string('user'),
    exposedPorts: o.strings('exposedPorts'),
    volumes: o.strings('volumes'),
    labels: o.stringMap('labels'),
    ...(stopSignal !== undefined ? { stopSignal } : {}),
    ...(portNames !== undefined ? { portNames } : {}),
    ...(volumeNames !== undefined ? { volumeNames } : {}),
  };
}

function checkVersion(top: ManifestObject): void {
  const version = top.rec.schemaVersion;
  if (version !== BUNDLE_SCHEMA_VERSION) top.fail('schemaVersion', version === undefined ? 'is missing' : `must be ${BUNDLE_SCHEMA_VERSION}, not ${describeValue(version)}`, NEWER_HINT);
  const mediaType = top.rec.mediaType;
  if (mediaType !== BUNDLE_MEDIA_TYPE) top.fail('mediaType', mediaType === undefined ? 'is missing' : `must be ${BUNDLE_MEDIA_TYPE}, not ${describeValue(mediaType)}`, NEWER_HINT);
}

function checkDistinctNames(m: BundleManifest, label: string): void {
  const seen = new Map<string, string>();
  for (const f of bundleFileList(m)) {
    const other = seen.get(f.name);
    if (other) throw new BadInputError(`${label}: ${other}.name and ${f.role}.name are both ${JSON.stringify(f.name)}`, { hint: MANIFEST_HINT });
    seen.set(f.name, f.role);
  }
}

function manifestFrom(top: ManifestObject): BundleManifest {
  const source = top.object('source');
  const initramfs = top.object('initramfs');
  const rootfs = top.optional('rootfs', (k) => top.object(k));
  const hyperstart = top.object('hyperstart');
  const sourceDateEpoch = top.optional('sourceDateEpoch', (k) => top.count(k));
  return {
    schemaVersion: BUNDLE_SCHEMA_VERSION,
    mediaType: BUNDLE_MEDIA_TYPE,
    source: { reference: source.string('reference'), manifestDigest: source.digest('manifestDigest'), configDigest: source.digest('configDigest'), platform: source.string('platform') },
    image: image(top.object('image')),
    kernel: kernel(top.object('kernel')),
    initramfs: { ...file(initramfs), compression: initramfs.oneOf('compression', COMPRESSIONS), uncompressedSize: initramfs.count('uncompressedSize') },
    ...(rootfs ? { rootfs: { ...file(rootfs), type: rootfs.oneOf('type', ROOTFS_TYPES) } } : {}),
    cmdline: top.string('cmdline'),
    hyperstart: { version: hyperstart.string('version'), digest: hyperstart.digest('digest') },
    rootfsBytes: top.count('rootfsBytes'),
    ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
    buildKey: top.digest('buildKey'),
  };
}

/**
 * Parse bundle.json from its bytes (or text, or already-parsed JSON); `label`
 * names it in errors (`out/app/bundle.json`, `bundle.json of REF`).
 */
export function parseBundleManifest(input: Uint8Array | string | Record<string, unknown>, label: string): BundleManifest {
  const json = typeof input === 'string' || input instanceof Uint8Array ? parseJson(Buffer.from(input), label) : input;
  if (!isRecord(json)) throw new BadInputError(`${label} is not a JSON object`, { hint: MANIFEST_HINT });
  const top = new ManifestObject(label, json);
  checkVersion(top);
  const m = manifestFrom(top);
  checkDistinctNames(m, label);
  return m;
}
