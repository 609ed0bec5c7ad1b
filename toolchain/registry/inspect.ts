/**
 * `hyperbuild inspect`: what a reference points at, without pulling layers.
 * Indexes list their platforms; images show their platform; bundles show
 * what they were built from and what they boot.
 */
import { isBundleArtifact } from '../bundle/oci-artifact.ts';
import { parseBundleManifest } from '../bundle/parse-manifest.ts';
import { BlobStore } from '../cache/blob-store.ts';
import { Annotation } from '../image/annotations.ts';
import { isImageConfigType } from '../image/media-types.ts';
import { formatPlatform } from '../image/platform.ts';
import type { RegistryOptions } from './client.ts';
import { RegistryClient } from './client.ts';
import { fetchJsonBlob } from './json-blob.ts';
import { fetchManifest } from './manifest-fetch.ts';
import { formatReference, manifestReference, parseReference } from './reference.ts';

export interface InspectBlob {
  mediaType: string;
  digest: string;
  size: number;
  title?: string;
}

export interface InspectResult {
  reference: string;
  digest: string;
  mediaType: string;
  kind: 'index' | 'image' | 'bundle' | 'artifact';
  artifactType?: string;
  annotations?: Record<string, string>;
  platforms?: string[];
  manifests?: (InspectBlob & { platform?: string; artifactType?: string })[];
  config?: InspectBlob;
  layers?: InspectBlob[];
  image?: { platform: string; created?: string };
  bundle?: {
    source: { reference: string; manifestDigest: string; platform: string };
    kernel: { name: string; release?: string; format?: string; size: number };
    initramfs: { name: string; compression?: string; size: number };
    rootfs?: { name: string; type?: string; size: number };
    cmdline?: string;
  };
}

export async function inspectReference(ref: string, opts: RegistryOptions & { cacheDir: string }): Promise<InspectResult> {
  const parsed = parseReference(ref);
  const name = formatReference(parsed);
  const client = await RegistryClient.create(parsed.registry, opts);
  try {
    const top = await fetchManifest(client, parsed.repository, manifestReference(parsed));
    const base = { reference: name, digest: top.digest, mediaType: top.mediaType };
    if (top.parsed.kind === 'index') {
      const { index } = top.parsed;
      const manifests = index.manifests.map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        platform: m.platform ? formatPlatform(m.platform) : undefined,
        artifactType: m.artifactType,
      }));
      return { ...base, kind: 'index', annotations: index.annotations, platforms: manifests.flatMap((m) => (m.platform ? [m.platform] : [])), manifests };
    }
    const { manifest } = top.parsed;
    const blob = (d: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }): InspectBlob => ({
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      title: d.annotations?.[Annotation.title],
    });
    const common = { ...base, artifactType: manifest.artifactType, annotations: manifest.annotations, config: blob(manifest.config), layers: manifest.layers.map(blob) };
    const store = new BlobStore(opts.cacheDir);
    if (isBundleArtifact(manifest)) {
      const config = await fetchJsonBlob(client, store, parsed.repository, manifest.config, `bundle.json of ${name}`);
      const bundle = parseBundleManifest(config.bytes, `bundle.json of ${name}`);
      return {
        ...common,
        kind: 'bundle',
        bundle: {
          source: { reference: bundle.source.reference, manifestDigest: bundle.source.manifestDigest, platform: bundle.source.platform },
          kernel: { name: bundle.kernel.name, release: bundle.kernel.release, format: bundle.kernel.format, size: bundle.kernel.size },
          initramfs: { name: bundle.initramfs.name, compression: bundle.initramfs.compression, size: bundle.initramfs.size },
          rootfs: bundle.rootfs ? { name: bundle.rootfs.name, type: bundle.rootfs.type, size: bundle.rootfs.size } : undefined,
          cmdline: bundle.cmdline,
        },
      };
    }
    if (isImageConfigType(manifest.config.mediaType)) {
      const config = await fetchJsonBlob(client, store, parsed.repository, manifest.config, `config of ${name}`);
      const c = config.json as { os?: unknown; architecture?: unknown; variant?: unknown; created?: unknown };
      const platform = formatPlatform({ os: String(c.os ?? 'unknown'), architecture: String(c.architecture ?? 'unknown'), variant: typeof c.variant === 'string' ? c.variant : undefined });
      return { ...common, kind: 'image', image: { platform, created: typeof c.created === 'string' ? c.created : undefined } };
    }
    return { ...common, kind: 'artifact' };
  } finally {
    client.close();
  }
}

/** Human-readable lines for the terminal (--json prints the object instead). */
export function formatInspect(r: InspectResult): string[] {
  const lines = [`Reference:  ${r.reference}`, `Digest:     ${r.digest}`, `MediaType:  ${r.mediaType}`, `Kind:       ${r.kind}`];
  if (r.artifactType) lines.push(`Artifact:   ${r.artifactType}`);
  if (r.manifests) {
    lines.push('Manifests:');
    for (const m of r.manifests) lines.push(`  ${m.platform ?? m.artifactType ?? '-'}  ${m.digest}  ${m.mediaType}`);
  }
  if (r.image) lines.push(`Platform:   ${r.image.platform}`, ...(r.image.created ? [`Created:    ${r.image.created}`] : []));
  if (r.bundle) {
    const b = r.bundle;
    lines.push(`Source:     ${b.source.reference ?? '?'} (${b.source.manifestDigest ?? '?'}, ${b.source.platform ?? '?'})`);
    lines.push(`Kernel:     ${b.kernel.name} ${b.kernel.release ?? ''} ${b.kernel.format ?? ''} ${b.kernel.size} bytes`.replace(/ +/g, ' '));
    lines.push(`Initramfs:  ${b.initramfs.name} (${b.initramfs.compression ?? '?'}) ${b.initramfs.size} bytes`);
    if (b.rootfs) lines.push(`Rootfs:     ${b.rootfs.name} (${b.rootfs.type ?? '?'}) ${b.rootfs.size} bytes`);
    if (b.cmdline) lines.push(`Cmdline:    ${b.cmdline}`);
  }
  if (r.config) lines.push(`Config:     ${r.config.mediaType} ${r.config.digest} ${r.config.size}`);
  if (r.layers) {
    lines.push('Layers:');
    for (const l of r.layers) lines.push(`  ${l.mediaType}  ${l.digest}  ${l.size}${l.title ? `  ${l.title}` : ''}`);
  }
  for (const [k, v] of Object.entries(r.annotations ?? {})) lines.push(`Annotation: ${k}=${v}`);
  return lines;
}
