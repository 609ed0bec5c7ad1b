/**
 * Load bundle.json and prove every file it names is the one the build wrote
 * (size, then sha256) before any of it reaches a VM: a truncated copy or an
 * edited initramfs is refused here with the file's name, not met as a guest
 * kernel panic.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BUNDLE_MANIFEST_NAME, BUNDLE_MEDIA_TYPE, BUNDLE_SCHEMA_VERSION, type BundleFile, type BundleManifest } from './manifest.ts';
import { BadInputError } from '../errors/errors.ts';
import { parseDigest } from '../digest/digest.ts';
import { fileDigest } from '../digest/file-digest.ts';

const REBUILD_HINT = 'rebuild the bundle (hyperbuild build) or copy it again';

export function readManifest(bundleDir: string): BundleManifest {
  const path = join(bundleDir, BUNDLE_MANIFEST_NAME);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadInputError(`${bundleDir} is not a bundle: cannot read ${BUNDLE_MANIFEST_NAME} (${code ?? err})`, {
      hint: 'pass the directory hyperbuild build wrote',
    });
  }
  let m: BundleManifest;
  try {
    m = JSON.parse(text) as BundleManifest;
  } catch (err) {
    throw new BadInputError(`${path} is not valid JSON: ${(err as Error).message}`, { hint: REBUILD_HINT });
  }
  if (m?.mediaType !== BUNDLE_MEDIA_TYPE || m.schemaVersion !== BUNDLE_SCHEMA_VERSION) {
    throw new BadInputError(`${path}: unsupported bundle (mediaType ${String(m?.mediaType)}, schemaVersion ${String(m?.schemaVersion)})`, {
      hint: `this hyperbuild boots ${BUNDLE_MEDIA_TYPE} schema ${BUNDLE_SCHEMA_VERSION}; rebuild the bundle`,
    });
  }
  if (!m.kernel || !m.initramfs || typeof m.cmdline !== 'string' || !m.image) {
    throw new BadInputError(`${path}: missing kernel, initramfs, cmdline or image`, { hint: REBUILD_HINT });
  }
  return m;
}

export async function verifyBundleFile(bundleDir: string, f: BundleFile, role: string): Promise<void> {
  if (typeof f.name !== 'string' || !f.name || f.name.includes('/') || f.name === '..' || f.name === '.') {
    throw new BadInputError(`bundle ${role}: invalid file name '${String(f.name)}'`, { hint: REBUILD_HINT });
  }
  const { algorithm } = parseDigest(f.digest, `digest of bundle ${role} ${f.name}`);
  const path = join(bundleDir, f.name);
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new BadInputError(`bundle ${role} ${f.name} is missing from ${bundleDir}`, { hint: REBUILD_HINT });
  }
  if (size !== f.size) {
    throw new BadInputError(`bundle ${role} ${f.name} has ${size} bytes, bundle.json says ${f.size}: the bundle was changed or truncated`, { hint: REBUILD_HINT });
  }
  if (algorithm !== 'sha256') throw new BadInputError(`bundle ${role} ${f.name}: only sha256 digests are supported`);
  const actual = (await fileDigest(path)).digest;
  if (actual !== f.digest) {
    throw new BadInputError(`bundle ${role} ${f.name} does not match bundle.json (sha256 differs): the bundle was tampered with or corrupted`, { hint: REBUILD_HINT });
  }
}

/** Read and fully verify a bundle directory. */
export async function loadVerifiedBundle(bundleDir: string): Promise<BundleManifest> {
  const m = readManifest(bundleDir);
  const files: [BundleFile, string][] = [[m.kernel, 'kernel'], [m.initramfs, 'initramfs']];
  if (m.rootfs) files.push([m.rootfs, 'rootfs']);
  await Promise.all(files.map(([f, role]) => verifyBundleFile(bundleDir, f, role)));
  return m;
}
