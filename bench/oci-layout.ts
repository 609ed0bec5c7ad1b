/**
 * The OCI image layout writer the benchmark images share (bench/make-big-image.ts,
 * bench/make-debian-image.ts): content-addressed blobs, gzip layers made with
 * GNU gzip -n -6 from a tar in memory, then config, manifest, oci-layout and an
 * index naming the manifest `latest`. Benchmark inputs, not test fixtures.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Descriptor {
  digest: string;
  size: number;
}

export interface Layer {
  diffId: string;
  blob: Descriptor;
}

const LAYER_MEDIA_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

export class OciLayoutWriter {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  }

  put(b: Buffer): Descriptor {
    const d = sha256(b);
    writeFileSync(join(this.dir, 'blobs/sha256', d), b);
    return { digest: `sha256:${d}`, size: b.length };
  }

  /** A tar as a gzip -6 layer blob, with its diff_id. */
  gzipLayer(tar: Buffer): Layer {
    return { diffId: `sha256:${sha256(tar)}`, blob: this.put(execFileSync('gzip', ['-n', '-6'], { input: tar, maxBuffer: 1 << 30 })) };
  }

  /** The image config's `config` (Env, Cmd…) with `layers` as its rootfs; writes manifest and index. */
  image(config: object, layers: Layer[]): void {
    const blob = this.put(Buffer.from(JSON.stringify({
      architecture: 'amd64', os: 'linux', config,
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    })));
    this.finish({ mediaType: 'application/vnd.oci.image.config.v1+json', ...blob }, layers.map((l) => l.blob));
  }

  /** Writes the manifest of `config` + `layers` (descriptors), oci-layout and the index. */
  finish(config: object, layers: Descriptor[], manifestBase: object = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json' }): void {
    const manifest = this.put(Buffer.from(JSON.stringify({
      ...manifestBase, config, layers: layers.map((l) => ({ mediaType: LAYER_MEDIA_TYPE, ...l })),
    })));
    writeFileSync(join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    writeFileSync(join(this.dir, 'index.json'), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
    }));
  }
}

/** The manifest, config and blob reader of a layout this writer made (its `latest`). */
export function readLayout(dir: string): { manifest: { config: Descriptor; layers: (Descriptor & { mediaType: string })[] }; config: { rootfs: { diff_ids: string[] } }; blob: (d: Descriptor) => Buffer } {
  const blob = (d: Descriptor) => readFileSync(join(dir, 'blobs/sha256', d.digest.slice('sha256:'.length)));
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(blob(index.manifests[0]).toString());
  return { manifest, config: JSON.parse(blob(manifest.config).toString()), blob };
}

export interface LayoutFacts {
  layers: number;
  entries: number;
  files: number;
  fileBytes: number;
  compressedBytes: number;
}

/** What the layout's image holds, counted by GNU tar listing each layer (`-` lines are regular files). */
export function layoutFacts(dir: string): LayoutFacts {
  const { manifest } = readLayout(dir);
  const facts: LayoutFacts = { layers: manifest.layers.length, entries: 0, files: 0, fileBytes: 0, compressedBytes: 0 };
  for (const layer of manifest.layers) {
    const listing = execFileSync('tar', ['--numeric-owner', '-tvzf', join(dir, 'blobs/sha256', layer.digest.slice('sha256:'.length))], { maxBuffer: 1 << 28 }).toString();
    for (const line of listing.split('\n')) {
      if (!line) continue;
      facts.entries++;
      if (line[0] !== '-') continue;
      facts.files++;
      facts.fileBytes += Number(line.split(/\s+/)[2]);
    }
    facts.compressedBytes += layer.size;
  }
  return facts;
}
