/**
 * `hyperbuild push`: open the bundle (every file verified, before any network
 * use), send the blobs the registry lacks, then the manifest. The manifest
 * goes last so a tag never points at an artifact with missing blobs.
 */
import { BUNDLE_MANIFEST_NAME } from '../bundle/manifest.ts';
import { bundleArtifact } from '../bundle/oci-artifact.ts';
import { openBundle } from '../bundle/open-bundle.ts';
import { BadInputError } from '../errors/errors.ts';
import { MediaType } from '../image/media-types.ts';
import type { BlobSource, UploadOutcome } from './blob-upload.ts';
import { pushBlob } from './blob-upload.ts';
import type { RegistryOptions } from './client.ts';
import { RegistryClient } from './client.ts';
import { mapLimit } from './concurrency.ts';
import { putManifest } from './manifest-fetch.ts';
import { lookupOrigin } from './origin-record.ts';
import { formatReference, parseReference } from './reference.ts';

export interface PushBundleOptions extends RegistryOptions {
  /** Cache with origin records of pulled bundles (enables automatic mounts). */
  cacheDir?: string;
  /** Repository on the same registry to mount blobs from. */
  mountFrom?: string;
}

export interface PushedBlob {
  name: string;
  digest: string;
  size: number;
  outcome: UploadOutcome;
}

export interface PushResult {
  reference: string;
  manifestDigest: string;
  blobs: PushedBlob[];
}

export async function pushBundle(dir: string, ref: string, opts: PushBundleOptions = {}): Promise<PushResult> {
  const target = parseReference(ref);
  const artifact = bundleArtifact(await openBundle(dir, { verify: 'full' }));
  if (target.digest && target.digest !== artifact.manifestDigest) {
    throw new BadInputError(`cannot push ${dir} as ${ref}: its manifest digest is ${artifact.manifestDigest}`, { hint: 'push to a tag, or to the digest the bundle actually has' });
  }
  let mountFrom = opts.mountFrom;
  if (!mountFrom && opts.cacheDir) {
    const origin = await lookupOrigin(opts.cacheDir, artifact.configDigest);
    if (origin && origin.registry === target.registry && origin.repository !== target.repository) mountFrom = origin.repository;
  }
  const client = await RegistryClient.create(target.registry, opts);
  try {
    const blobs: { name: string; digest: string; source: BlobSource; size: number }[] = [
      { name: BUNDLE_MANIFEST_NAME, digest: artifact.configDigest, source: { bytes: artifact.configBytes }, size: artifact.configBytes.length },
      ...artifact.files.map((f) => ({ name: f.name, digest: f.digest, source: { path: f.path, size: f.size }, size: f.size })),
    ];
    const pushed = await mapLimit(blobs, client.concurrency, async (b) => {
      const outcome = await pushBlob(client, target.repository, b.digest, b.source, { mountFrom, label: b.name });
      client.log(`${b.name}: ${outcome}`);
      return { name: b.name, digest: b.digest, size: b.size, outcome };
    });
    const manifestDigest = await putManifest(client, target.repository, target.digest ?? target.tag ?? 'latest', MediaType.ociManifest, artifact.manifestBytes);
    return { reference: formatReference({ ...target, digest: manifestDigest }), manifestDigest, blobs: pushed };
  } finally {
    client.close();
  }
}
