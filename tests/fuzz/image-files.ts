/**
 * Builds the fuzzer's images from parts, with every digest, size and diff_id
 * made right after each mutation hook has run, so a mutation reaches the
 * parser it aims at instead of stopping at a digest check (unless the
 * mutation is a stale digest on purpose). Writes them as an OCI layout
 * directory, an OCI archive or a `docker save` archive.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sha256Digest } from '../../toolchain/digest/digest.ts';
import { encodeTar, type TarWriteMember } from '../../toolchain/tar/writer.ts';

export type Json = Record<string, unknown>;
export type Compression = 'gzip' | 'none';

export interface Layer {
  /** The uncompressed tar (its sha256 is the diff_id). */
  tar: Buffer;
  compression: Compression;
}

/** Mutation hooks, each run on the correct document before digests are (re)computed. */
export interface Hooks {
  /** The compressed blob of layer i (its digest is then taken over what this returns). */
  layerBlob?: (i: number, blob: Buffer) => Buffer;
  config?: (config: Json) => unknown;
  configBytes?: (bytes: Buffer) => Buffer;
  manifest?: (manifest: Json) => unknown;
  manifestBytes?: (bytes: Buffer) => Buffer;
  index?: (index: Json) => unknown;
  indexBytes?: (bytes: Buffer) => Buffer;
  /** The oci-layout file; null leaves it out. */
  ociLayout?: (bytes: Buffer) => Buffer | null;
  /** After everything: change blob files without fixing any digest (a stale or tampered blob). */
  files?: (files: Map<string, Buffer>, digests: { layers: string[]; config: string; manifest: string }) => void;
}

export const LAYER_TYPE: Record<Compression, string> = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  none: 'application/vnd.oci.image.layer.v1.tar',
};
export const TAG = 'fuzz';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

export function compress(tar: Buffer, compression: Compression): Buffer {
  return compression === 'gzip' ? gzipSync(tar, { level: 1 }) : tar;
}

/** An OCI image layout as files (path relative to the layout → bytes). */
export function layoutFiles(layers: Layer[], hooks: Hooks = {}): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const put = (bytes: Buffer) => {
    const digest = sha256Digest(bytes);
    files.set(`blobs/sha256/${digest.slice(7)}`, bytes);
    return { digest, size: bytes.length };
  };
  const layerDescs = layers.map((l, i) => {
    const blob = hooks.layerBlob ? hooks.layerBlob(i, compress(l.tar, l.compression)) : compress(l.tar, l.compression);
    return { mediaType: LAYER_TYPE[l.compression], ...put(blob) };
  });
  const baseConfig: Json = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], WorkingDir: '/', User: '0:0' },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256Digest(l.tar)) },
  };
  const configObj = hooks.config ? hooks.config(baseConfig) : baseConfig;
  let configBytes = json(configObj);
  if (hooks.configBytes) configBytes = hooks.configBytes(configBytes);
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(configBytes) };
  const baseManifest: Json = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: layerDescs };
  let manifestBytes = json(hooks.manifest ? hooks.manifest(baseManifest) : baseManifest);
  if (hooks.manifestBytes) manifestBytes = hooks.manifestBytes(manifestBytes);
  const manifest = put(manifestBytes);
  const baseIndex: Json = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': TAG } }],
  };
  let indexBytes = json(hooks.index ? hooks.index(baseIndex) : baseIndex);
  if (hooks.indexBytes) indexBytes = hooks.indexBytes(indexBytes);
  files.set('index.json', indexBytes);
  const layout = hooks.ociLayout ? hooks.ociLayout(json({ imageLayoutVersion: '1.0.0' })) : json({ imageLayoutVersion: '1.0.0' });
  if (layout) files.set('oci-layout', layout);
  hooks.files?.(files, { layers: layerDescs.map((d) => d.digest), config: config.digest, manifest: manifest.digest });
  return files;
}

export function writeFiles(dir: string, files: Map<string, Buffer>): void {
  for (const [name, bytes] of files) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), bytes);
  }
}

/** Files as one tar (an OCI archive, or a docker save archive), in insertion order. */
export function tarOf(files: Map<string, Buffer>): Buffer {
  const members: TarWriteMember[] = [...files].map(([path, data]) => ({ entry: { path, type: 'file' as const }, data }));
  return encodeTar(members);
}

/** Hooks of a `docker save` archive. */
export interface DockerHooks {
  saveManifest?: (entries: Json[]) => unknown;
  saveManifestBytes?: (bytes: Buffer) => Buffer;
  config?: (config: Json) => unknown;
  /** The archive's members before it is written (add, drop, rename, corrupt). */
  files?: (files: Map<string, Buffer>) => void;
}

/** A classic `docker save` archive: manifest.json, <hex>.json config, <hex>/layer.tar per layer. */
export function dockerArchiveFiles(layers: Layer[], hooks: DockerHooks = {}): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const layerNames = layers.map((l) => {
    const name = `${sha256Digest(l.tar).slice(7)}/layer.tar`;
    files.set(name, compress(l.tar, l.compression));
    return name;
  });
  const baseConfig: Json = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256Digest(l.tar)) },
  };
  const configBytes = json(hooks.config ? hooks.config(baseConfig) : baseConfig);
  const configName = `${sha256Digest(configBytes).slice(7)}.json`;
  files.set(configName, configBytes);
  const entries: Json[] = [{ Config: configName, RepoTags: [`${TAG}:latest`], Layers: layerNames }];
  let manifestBytes = json(hooks.saveManifest ? hooks.saveManifest(entries) : entries);
  if (hooks.saveManifestBytes) manifestBytes = hooks.saveManifestBytes(manifestBytes);
  files.set('manifest.json', manifestBytes);
  hooks.files?.(files);
  return files;
}
