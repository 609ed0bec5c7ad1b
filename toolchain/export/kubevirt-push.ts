/**
 * `hyperbuild push BUNDLE REF --as kubevirt`: build the kernelBoot image
 * (kubevirt-image.ts) with the runtime spec for KubeVirt's pod network baked
 * into its initrd, send the blobs the registry lacks, then the manifest (last,
 * so the tag never names an image with missing blobs). The layer is written
 * to the cache first (it is hashed while written) and removed after.
 */
import { rm } from 'node:fs/promises';
import { openBundle } from '../bundle/open-bundle.ts';
import { sha256Digest } from '../digest/digest.ts';
import { MediaType } from '../image/media-types.ts';
import { pushBlob } from '../registry/blob-upload.ts';
import { RegistryClient, type RegistryOptions } from '../registry/client.ts';
import { putManifest } from '../registry/manifest-fetch.ts';
import { formatReference, parseReference } from '../registry/reference.ts';
import { BadInputError } from '../errors/errors.ts';
import { kubevirtImageConfig, kubevirtImageManifest, kubevirtLayerFiles, layerDir, writeLayer } from './kubevirt-image.ts';
import { exportNetwork, runtimeSegment, type SpecRequest } from './runtime.ts';
import { checkExportRequest } from './targets.ts';

export interface KubevirtPushOptions extends RegistryOptions {
  cacheDir: string;
  spec: SpecRequest;
  /** Nameservers for the guest (the cluster DNS is not known here). */
  dns: string[];
}

export interface KubevirtPushResult {
  reference: string;
  manifestDigest: string;
  layer: { digest: string; size: number };
  /** Paths inside the image, as the VirtualMachine names them. */
  files: string[];
}

export async function pushKubevirtImage(bundleDir: string, ref: string, opts: KubevirtPushOptions): Promise<KubevirtPushResult> {
  const target = parseReference(ref);
  if (target.digest) throw new BadInputError(`push --as kubevirt ${ref}: push to a tag; the image's digest is known only once it is built`, { hint: 'use REPOSITORY:TAG' });
  const opened = await openBundle(bundleDir, { verify: 'full' });
  checkExportRequest('kubevirt', opened.manifest, { publishes: false, volumes: false, interactive: false, tty: false, cpus: 1, specFlags: [] });
  const network = exportNetwork('pod', { publish: [], dns: opts.dns });
  const files = kubevirtLayerFiles(opened, await runtimeSegment(opened, opts.spec, network.guest));
  const layer = await writeLayer(layerDir(opts.cacheDir), files, opened.manifest.sourceDateEpoch ?? 0);
  try {
    const configBytes = kubevirtImageConfig(opened.manifest, layer.digest);
    const config = { digest: sha256Digest(configBytes), size: configBytes.length };
    const manifestBytes = kubevirtImageManifest(config, layer);
    const client = await RegistryClient.create(target.registry, opts);
    try {
      for (const [label, digest, source] of [
        ['layer', layer.digest, { path: layer.path, size: layer.size }],
        ['config', config.digest, { bytes: configBytes }],
      ] as const) {
        client.log(`${label}: ${await pushBlob(client, target.repository, digest, source, { label })}`);
      }
      const manifestDigest = await putManifest(client, target.repository, target.tag ?? 'latest', MediaType.ociManifest, manifestBytes);
      return {
        reference: formatReference({ ...target, digest: manifestDigest }), manifestDigest,
        layer: { digest: layer.digest, size: layer.size }, files: files.map((f) => f.path),
      };
    } finally {
      client.close();
    }
  } finally {
    await rm(layer.path, { force: true });
  }
}
