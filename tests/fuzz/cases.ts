/**
 * One fuzz case from one 32-bit seed: the seed picks the family (layer,
 * blob, manifest, config, index, oci-layout, docker-archive, oci-archive, aci),
 * the mutation and the image format, and writes the inputs. The same seed
 * always writes the same bytes, so a failure is reproduced by its seed.
 * Registry cases are made by registry-cases.ts (they need its running registry).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeTar } from '../../toolchain/tar/writer.ts';
import { dockerArchiveFiles, layoutFiles, tarOf, TAG, writeFiles, type Compression, type DockerHooks, type Hooks, type Layer } from './image-files.ts';
import { BYTE_MUTATIONS, CONFIG_MUTATIONS, DOCKER_MANIFEST_MUTATIONS, INDEX_MUTATIONS, MANIFEST_MUTATIONS, OCI_LAYOUT_MUTATIONS } from './json-mutations.ts';
import { BYTE_LEVEL, MARKER, baseMembers, layerMutations, mutatedLayer } from './layer-mutations.ts';
import { aciMutations, writeAci } from './aci-cases.ts';
import { registryCase } from './registry-cases.ts';
import { Rng } from './rng.ts';

export type Family = 'control' | 'layer' | 'blob' | 'manifest' | 'config' | 'index' | 'oci-layout' | 'docker-archive' | 'oci-archive' | 'aci' | 'registry';

export interface PreparedCase {
  /** The IMAGE argument of `hyperbuild build`. */
  reference: string;
  /** More build flags. */
  args?: string[];
  /** Exit codes the table allows for this input (default: 0 or 2). */
  allowed?: number[];
  /** When set, a failure's error line must match (e.g. a stale digest must be named as a digest mismatch). */
  expectMessage?: RegExp;
  /** Exit code this case must have (controls: 0). */
  expectStatus?: number;
  /** Stops what the case started (a registry proxy). */
  cleanup?: () => Promise<void>;
}

export interface FuzzCase {
  seed: number;
  family: Family;
  mutation: string;
  prepare(dir: string): Promise<PreparedCase>;
}

type Format = 'oci' | 'oci-archive' | 'docker-archive';

const WEIGHTS: [Family, number][] = [
  ['control', 3],
  ['layer', 40],
  ['blob', 10],
  ['manifest', 10],
  ['config', 10],
  ['index', 6],
  ['oci-layout', 3],
  ['docker-archive', 9],
  ['oci-archive', 9],
  ['aci', 6],
  ['registry', 6],
];

function pickFamily(rng: Rng): Family {
  let roll = rng.next() * WEIGHTS.reduce((s, [, w]) => s + w, 0);
  for (const [family, weight] of WEIGHTS) if ((roll -= weight) < 0) return family;
  return 'layer';
}

function baseLayer(rng: Rng, compression: Compression = rng.pick(['gzip', 'none'])): Layer {
  return { tar: encodeTar(baseMembers(rng)), compression };
}

/** Write `layers` (with hooks) in `format` under dir; returns the reference. */
function writeImage(dir: string, format: Format, layers: Layer[], hooks: Hooks = {}, docker: DockerHooks = {}): string {
  if (format === 'docker-archive') {
    const file = join(dir, 'image.tar');
    writeFileSync(file, tarOf(dockerArchiveFiles(layers, docker)));
    return `docker-archive:${file}`;
  }
  const files = layoutFiles(layers, hooks);
  if (format === 'oci-archive') {
    const file = join(dir, 'image.tar');
    writeFileSync(file, tarOf(files));
    return `oci-archive:${file}:${TAG}`;
  }
  writeFiles(join(dir, 'layout'), files);
  return `oci:${join(dir, 'layout')}:${TAG}`;
}

/** Blob-level mutations of a layer (compression, digests), with the digest fixed unless the mutation is about it. */
const BLOB_MUTATIONS: Record<string, (rng: Rng) => { layers: Layer[]; hooks: Hooks; expectMessage?: RegExp }> = {
  'gzip-bit-flips': (r) => ({ layers: [baseLayer(r, 'gzip')], hooks: { layerBlob: (_i, b) => BYTE_LEVEL['bit-flips']!(r, b) } }),
  'gzip-truncated': (r) => ({ layers: [baseLayer(r, 'gzip')], hooks: { layerBlob: (_i, b) => b.subarray(0, r.int(0, b.length - 1)) } }),
  'gzip-concatenated-members': (r) => {
    const layer = baseLayer(r, 'gzip');
    const cut = r.int(1, layer.tar.length - 1);
    return { layers: [layer], hooks: { layerBlob: () => Buffer.concat([gzipSync(layer.tar.subarray(0, cut)), gzipSync(layer.tar.subarray(cut))]) } };
  },
  'gzip-trailing-garbage': (r) => ({ layers: [baseLayer(r, 'gzip')], hooks: { layerBlob: (_i, b) => Buffer.concat([b, r.bytes(r.int(1, 64))]) } }),
  'labelled-gzip-but-plain': (r) => {
    const layer = baseLayer(r, 'none');
    return { layers: [{ ...layer, compression: 'gzip' }], hooks: { layerBlob: () => layer.tar } };
  },
  'labelled-plain-but-gzip': (r) => {
    const layer = baseLayer(r, 'gzip');
    return { layers: [{ ...layer, compression: 'none' }], hooks: { layerBlob: () => gzipSync(layer.tar) } };
  },
  'other-compression': (r) => ({ layers: [baseLayer(r)], hooks: { layerBlob: (_i, b) => Buffer.concat([Buffer.from(r.pick(['BZh91AY&SY', '\xfd7zXZ\0', '\x28\xb5\x2f\xfd', '\x04\x22\x4d\x18']), 'latin1'), b]) } }),
  'empty-blob': (r) => ({ layers: [baseLayer(r)], hooks: { layerBlob: () => Buffer.alloc(0) } }),
  'stale-layer-digest': (r) => ({
    layers: [baseLayer(r)],
    hooks: {
      files: (files, d) => {
        // Another layer, with an escape, under the old name: the digest check must speak first.
        files.set(`blobs/sha256/${d.layers[0]!.slice(7)}`, gzipSync(encodeTar([{ entry: { path: `../../${MARKER}-stale`, type: 'file' }, data: Buffer.from('x') }])));
      },
    },
    expectMessage: /does not match its digest|is (larger than|truncated)/,
  }),
  'stale-config-digest': (r) => ({ layers: [baseLayer(r)], hooks: { files: (files, d) => void files.set(`blobs/sha256/${d.config.slice(7)}`, Buffer.from('{"rootfs":{}}')) }, expectMessage: /does not match its digest|is (larger than|truncated)/ }),
  'stale-manifest-digest': (r) => ({ layers: [baseLayer(r)], hooks: { files: (files, d) => void files.set(`blobs/sha256/${d.manifest.slice(7)}`, Buffer.from('{"schemaVersion":2}')) }, expectMessage: /does not match its digest|is (larger than|truncated)/ }),
  'missing-blob': (r) => ({ layers: [baseLayer(r)], hooks: { files: (files, d) => void files.delete(`blobs/sha256/${d.layers[0]!.slice(7)}`) } }),
  'diff-id-wrong': (r) => ({ layers: [baseLayer(r)], hooks: { config: (c) => ({ ...c, rootfs: { type: 'layers', diff_ids: [`sha256:${'1'.repeat(64)}`] } }) } }),
};

function docMutation<T>(rng: Rng, table: Record<string, T>, name: string): T {
  return table[name] ?? table[rng.pick(Object.keys(table))]!;
}

/** `name` is `doc:mutation` or `bytes:mutation`; hooks for the document kind. */
function jsonCase(rng: Rng, family: 'manifest' | 'config' | 'index', mutation: string): Hooks {
  const [kind, name] = mutation.split(':') as [string, string];
  if (kind === 'bytes') {
    const m = BYTE_MUTATIONS[name]!;
    return { [`${family}Bytes`]: (b: Buffer) => m(rng, b) } as Hooks;
  }
  const table = { manifest: MANIFEST_MUTATIONS, config: CONFIG_MUTATIONS, index: INDEX_MUTATIONS }[family];
  const m = docMutation(rng, table, name);
  return { [family]: (doc: Record<string, unknown>) => m(rng, doc) } as Hooks;
}

function jsonMutationNames(family: 'manifest' | 'config' | 'index'): string[] {
  const table = { manifest: MANIFEST_MUTATIONS, config: CONFIG_MUTATIONS, index: INDEX_MUTATIONS }[family];
  return [...Object.keys(table).map((n) => `doc:${n}`), ...Object.keys(BYTE_MUTATIONS).map((n) => `bytes:${n}`)];
}

/** Outer-archive damage (the archive file itself), for the two archive families. */
const ARCHIVE_MUTATIONS: Record<string, (rng: Rng, files: Map<string, Buffer>) => Buffer> = {
  none: (_r, f) => tarOf(f),
  gzipped: (_r, f) => gzipSync(tarOf(f)),
  'outer-bytes': (r, f) => BYTE_LEVEL[r.pick(['bit-flips', 'bit-flips-checksum-fixed', 'truncate', 'truncate-at-block', 'numeric-field', 'no-end-marker', 'garbage-after-end', 'lone-zero-block'])]!(r, tarOf(f)),
  'member-escape': (r, f) => tarOf(new Map([...f, [r.pick([`../${MARKER}-outer`, `/${MARKER}-outer`, `blobs/../../${MARKER}-outer`]), Buffer.from('x')]])),
  'duplicate-member': (r, f) => {
    const [name] = r.pick([...f]);
    return Buffer.concat([tarOf(f).subarray(0, -1024), encodeTar([{ entry: { path: name, type: 'file' }, data: Buffer.from('{"x":1}') }])]);
  },
  'member-symlink': (r, f) => {
    const [name] = r.pick([...f]);
    const rest = new Map(f);
    rest.delete(name);
    return encodeTar([...[...rest].map(([path, data]) => ({ entry: { path, type: 'file' as const }, data })), { entry: { path: name, type: 'symlink', linkname: r.pick(['/etc/passwd', '../../x', 'index.json']) } }]);
  },
  'member-dotslash': (_r, f) => tarOf(new Map([...f].map(([k, v]) => [`./${k}`, v]))),
  'empty-archive': () => encodeTar([]),
};

function archiveCase(rng: Rng, family: 'docker-archive' | 'oci-archive', mutation: string, dir: string): string {
  const [docPart, outer] = mutation.split('|') as [string, string];
  const layers = [baseLayer(rng)];
  let files: Map<string, Buffer>;
  if (family === 'docker-archive') {
    const m = DOCKER_MANIFEST_MUTATIONS[docPart];
    files = dockerArchiveFiles(layers, m ? { saveManifest: (e) => m(rng, e) } : docPart.startsWith('bytes:') ? { saveManifestBytes: (b) => BYTE_MUTATIONS[docPart.slice(6)]!(rng, b) } : {});
  } else {
    const m = OCI_LAYOUT_MUTATIONS[docPart];
    files = layoutFiles(layers, m ? { ociLayout: (b) => m(rng, b) } : docPart === 'no-index' ? { files: (f) => void f.delete('index.json') } : {});
  }
  const file = join(dir, 'image.tar');
  writeFileSync(file, ARCHIVE_MUTATIONS[outer]!(rng, files));
  return family === 'docker-archive' ? `docker-archive:${file}` : `oci-archive:${file}:${TAG}`;
}

function archiveMutationNames(family: 'docker-archive' | 'oci-archive'): string[] {
  const docs = family === 'docker-archive' ? [...Object.keys(DOCKER_MANIFEST_MUTATIONS), 'bytes:truncate', 'bytes:not-json', 'none'] : [...Object.keys(OCI_LAYOUT_MUTATIONS), 'no-index', 'none'];
  return [...docs.map((d) => `${d}|none`), ...Object.keys(ARCHIVE_MUTATIONS).map((o) => `none|${o}`)];
}

/** The case a seed describes. */
export function fuzzCase(seed: number): FuzzCase {
  const rng = new Rng(seed);
  const family = pickFamily(rng);
  const format = rng.pick<Format>(['oci', 'oci', 'oci-archive', 'docker-archive']);
  const make = (mutation: string, prepare: (dir: string) => PreparedCase | Promise<PreparedCase>): FuzzCase => ({ seed, family, mutation, prepare: async (dir) => prepare(dir) });
  switch (family) {
    case 'control':
      return make(`valid ${format}`, (dir) => ({ reference: writeImage(dir, format, [baseLayer(rng), baseLayer(rng)]), expectStatus: 0 }));
    case 'layer': {
      const mutation = rng.pick(layerMutations());
      const rootfs = rng.chance(0.1) ? ['--rootfs', 'ext4'] : [];
      return make(`${mutation} (${format}${rootfs.length ? ', ext4' : ''})`, (dir) => {
        const layers = [baseLayer(rng), { tar: mutatedLayer(rng, mutation), compression: rng.pick<Compression>(['gzip', 'none']) }];
        return { reference: writeImage(dir, format, layers), args: rootfs };
      });
    }
    case 'blob': {
      const mutation = rng.pick(Object.keys(BLOB_MUTATIONS));
      return make(mutation, (dir) => {
        const { layers, hooks, expectMessage } = BLOB_MUTATIONS[mutation]!(rng);
        return { reference: writeImage(dir, 'oci', layers, hooks), expectMessage };
      });
    }
    case 'manifest':
    case 'config':
    case 'index': {
      const mutation = rng.pick(jsonMutationNames(family));
      return make(mutation, (dir) => ({ reference: writeImage(dir, rng.pick<Format>(['oci', 'oci-archive']), [baseLayer(rng)], jsonCase(rng, family, mutation)) }));
    }
    case 'oci-layout': {
      const mutation = rng.pick(Object.keys(OCI_LAYOUT_MUTATIONS));
      return make(mutation, (dir) => ({ reference: writeImage(dir, 'oci', [baseLayer(rng)], { ociLayout: (b) => OCI_LAYOUT_MUTATIONS[mutation]!(rng, b) }) }));
    }
    case 'docker-archive':
    case 'oci-archive': {
      const mutation = rng.pick(archiveMutationNames(family));
      return make(mutation, (dir) => ({ reference: archiveCase(rng, family, mutation, dir) }));
    }
    case 'aci': {
      const mutation = rng.pick(aciMutations());
      return make(mutation, (dir) => ({ reference: writeAci(rng, mutation, dir), expectStatus: mutation === 'valid' ? 0 : undefined }));
    }
    case 'registry':
      return registryCase(seed, rng);
  }
}
