/**
 * Mutations of the image's JSON documents (index, manifest, config,
 * oci-layout, docker manifest.json): a generic one (a random path set to a
 * value of a random kind, or deleted) and the targeted ones the OCI image
 * spec has rules for (media types that lie, negative or wrong sizes, config
 * fields of the wrong form). Each returns the mutated document or raw bytes.
 */
import type { Json } from './image-files.ts';
import type { Rng } from './rng.ts';

const WEIRD_VALUES: unknown[] = [null, -1, 1.5, 2 ** 53 + 2, 1e308, '', 'x'.repeat(5000), '../../..', [], {}, [1, 'a', null], true, { '': 1 }, '\u0000', -0];

/** Every path to a value inside `doc` (object keys and array indexes). */
function paths(doc: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (doc && typeof doc === 'object') {
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      const p = [...prefix, Array.isArray(doc) ? Number(k) : k];
      out.push(p);
      paths(v, p, out);
    }
  }
  return out;
}

/** Set (or delete) a random path to a random kind of value. */
export function genericMutation(rng: Rng, doc: Json): Json {
  const copy = structuredClone(doc);
  const all = paths(copy);
  if (all.length === 0) return copy;
  const path = rng.pick(all);
  let parent: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (rng.chance(0.3)) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else parent[last] = structuredClone(rng.pick(WEIRD_VALUES));
  return copy;
}

type DocMutation = (rng: Rng, doc: Json) => unknown;

const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const CONFIG = 'application/vnd.oci.image.config.v1+json';

const layers = (m: Json) => m.layers as Json[];
const config = (m: Json) => m.config as Json;

export const MANIFEST_MUTATIONS: Record<string, DocMutation> = {
  generic: genericMutation,
  'config-labelled-layer': (_r, m) => ({ ...m, config: { ...config(m), mediaType: LAYER_GZIP } }),
  'layer-labelled-manifest': (_r, m) => ({ ...m, layers: layers(m).map((l) => ({ ...l, mediaType: MANIFEST })) }),
  'layer-labelled-plain-but-gzip': (_r, m) => ({ ...m, layers: layers(m).map((l) => ({ ...l, mediaType: LAYER_TAR })) }),
  'layer-labelled-zstd': (_r, m) => ({ ...m, layers: layers(m).map((l) => ({ ...l, mediaType: `${LAYER_TAR}+zstd` })) }),
  'layer-unknown-type': (r, m) => ({ ...m, layers: layers(m).map((l) => ({ ...l, mediaType: r.pick(['text/plain', 'application/vnd.oci.image.layer.v1.tar+bzip2', '', 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip']) })) }),
  'config-size-negative': (_r, m) => ({ ...m, config: { ...config(m), size: -1 } }),
  'config-size-wrong': (r, m) => ({ ...m, config: { ...config(m), size: (config(m).size as number) + r.pick([1, -1, 1000, 2 ** 40]) } }),
  'layer-size-wrong': (r, m) => ({ ...m, layers: layers(m).map((l) => ({ ...l, size: (l.size as number) + r.pick([1, -1, 4096, -(l.size as number)]) })) }),
  'layer-size-float': (_r, m) => ({ ...m, layers: layers(m).map((l) => ({ ...l, size: (l.size as number) + 0.5 })) }),
  'digest-missing-blob': (_r, m) => ({ ...m, layers: layers(m).map((l) => ({ ...l, digest: `sha256:${'ab'.repeat(32)}` })) }),
  'digest-malformed': (r, m) => ({ ...m, config: { ...config(m), digest: r.pick(['sha256:xyz', 'md5:abc', `sha256:${'A'.repeat(64)}`, '', 'sha256:../../../etc/passwd', `sha512:${'a'.repeat(64)}`]) } }),
  'digest-swapped': (_r, m) => ({ ...m, config: { ...config(m), digest: layers(m)[0]!.digest, size: layers(m)[0]!.size } }),
  'no-layers': (_r, m) => ({ ...m, layers: [] }),
  'schema-version': (r, m) => ({ ...m, schemaVersion: r.pick([1, 3, '2', null, 2.0000001]) }),
  'media-type-index': (_r, m) => ({ ...m, mediaType: INDEX }),
  'media-type-junk': (r, m) => ({ ...m, mediaType: r.pick(['application/json', 'x'.repeat(300), 7]) }),
  'annotations-junk': (r, m) => ({ ...m, annotations: r.pick([[], { a: 1 }, 'x', { a: { b: 'c' } }]) }),
  'subject-junk': (r, m) => ({ ...m, subject: r.pick([{}, { mediaType: MANIFEST, digest: 'sha256:00', size: 1 }, 'x']) }),
  'duplicate-layer': (_r, m) => ({ ...m, layers: [...layers(m), ...layers(m)] }),
};

export const CONFIG_MUTATIONS: Record<string, DocMutation> = {
  generic: genericMutation,
  user: (r, c) => ({ ...c, config: { ...(c.config as Json), User: r.pick(['a:b:c', '-1:-1', '99999999999999999999', '', 'root', '1000:1000', 'nobody:nogroup', ':', 'a:', ':b', '0:0:0', 'x\ny', 4294967296, 0]) } }),
  'working-dir': (r, c) => ({ ...c, config: { ...(c.config as Json), WorkingDir: r.pick(['relative', '../../..', '/ok/dir', '', '/a/../..', 5, '/x\0y']) } }),
  'exposed-ports': (r, c) => ({ ...c, config: { ...(c.config as Json), ExposedPorts: r.pick([{ 'abc/tcp': {} }, { '80': {} }, { '80/tcp': {}, '53/udp': {} }, { '99999/tcp': {} }, { '80/sctp': {} }, { '0/tcp': {} }, { '-1/tcp': {} }, ['80/tcp'], '80', { '80/TCP': {} }]) } }),
  env: (r, c) => ({ ...c, config: { ...(c.config as Json), Env: r.pick([['NOEQUALS'], [1], 'PATH=/bin', ['=empty'], ['A=b', 'A=c'], ['X=\0'], [], null, ['K=v=w']]) } }),
  'entrypoint-cmd': (r, c) => ({ ...c, config: { ...(c.config as Json), [r.pick(['Entrypoint', 'Cmd'])]: r.pick(['/bin/sh -c x', [1], [], null, [''], [['nested']], {}]) } }),
  volumes: (r, c) => ({ ...c, config: { ...(c.config as Json), Volumes: r.pick([{ relative: {} }, { '/data': {} }, { '/': {} }, ['/data'], { '/a/../..': {} }, { '': {} }]) } }),
  'config-kind': (r, c) => ({ ...c, config: r.pick([[], 'x', 7, null, {}]) }),
  'diff-ids': (r, c) => ({ ...c, rootfs: r.pick([{ type: 'layers', diff_ids: [] }, { type: 'layers', diff_ids: [`sha256:${'0'.repeat(64)}`] }, { type: 'layers' }, { type: 'other', diff_ids: (c.rootfs as Json).diff_ids }, [], { type: 'layers', diff_ids: ['x'] }]) }),
  platform: (r, c) => ({ ...c, [r.pick(['os', 'architecture', 'variant'])]: r.pick(['windows', 'arm64', '', 7, null, 'x'.repeat(1000)]) }),
  'stop-signal': (r, c) => ({ ...c, config: { ...(c.config as Json), StopSignal: r.pick(['SIGKILL', 'BOGUS', '99', '', 9]) } }),
  labels: (r, c) => ({ ...c, config: { ...(c.config as Json), Labels: r.pick([{ a: 1 }, [], 'x', { 'x\ny': 'z' }]) } }),
};

export const INDEX_MUTATIONS: Record<string, DocMutation> = {
  generic: genericMutation,
  'entry-labelled-layer': (_r, x) => ({ ...x, manifests: (x.manifests as Json[]).map((e) => ({ ...e, mediaType: LAYER_GZIP })) }),
  'entry-labelled-index': (_r, x) => ({ ...x, manifests: (x.manifests as Json[]).map((e) => ({ ...e, mediaType: INDEX })) }),
  'entry-labelled-config': (_r, x) => ({ ...x, manifests: (x.manifests as Json[]).map((e) => ({ ...e, mediaType: CONFIG })) }),
  'entry-size': (r, x) => ({ ...x, manifests: (x.manifests as Json[]).map((e) => ({ ...e, size: r.pick([-1, 0, 1, 2 ** 40, 'x']) })) }),
  'platform-junk': (r, x) => ({ ...x, manifests: (x.manifests as Json[]).map((e) => ({ ...e, platform: r.pick([{}, { os: 'linux' }, { os: 7, architecture: 'amd64' }, 'linux/amd64', { os: 'linux', architecture: 'arm64' }]) })) }),
  'no-manifests': (r, x) => ({ ...x, manifests: r.pick([[], null, {}, 'x']) }),
  'tag-missing': (_r, x) => ({ ...x, manifests: (x.manifests as Json[]).map((e) => ({ ...e, annotations: {} })) }),
  'tag-duplicated': (_r, x) => ({ ...x, manifests: [...(x.manifests as Json[]), ...(x.manifests as Json[])] }),
  'many-entries': (_r, x) => ({ ...x, manifests: Array.from({ length: 20_000 }, () => (x.manifests as Json[])[0]) }),
};

/** Raw-byte mutations any JSON document may get (its digest is fixed afterwards). */
export const BYTE_MUTATIONS: Record<string, (rng: Rng, bytes: Buffer) => Buffer> = {
  truncate: (r, b) => b.subarray(0, r.int(0, b.length - 1)),
  'not-json': (r) => Buffer.from(r.pick(['', 'null', '[]', '"x"', '{', '\ufeff{}', 'x'.repeat(100)])),
  'trailing-garbage': (_r, b) => Buffer.concat([b, Buffer.from('}garbage')]),
  'deep-nesting': (_r) => Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`),
  huge: (_r, b) => Buffer.concat([b.subarray(0, b.length - 1), Buffer.from(`,"pad":"${'x'.repeat(5 * 1024 * 1024)}"}`)]),
  'bom-prefix': (_r, b) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]),
  'invalid-utf8': (_r, b) => Buffer.concat([b.subarray(0, b.length - 1), Buffer.from(',"x":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
  'duplicate-keys': (_r, b) => Buffer.from(b.toString().replace(/^\{/, '{"schemaVersion":1,"mediaType":"x",')),
};

export const OCI_LAYOUT_MUTATIONS: Record<string, (rng: Rng, bytes: Buffer) => Buffer | null> = {
  missing: () => null,
  'version-unknown': (r) => Buffer.from(JSON.stringify({ imageLayoutVersion: r.pick(['9.9', '2.0.0', '', 1, null]) })),
  'not-json': () => Buffer.from('imageLayoutVersion: 1.0.0'),
  empty: () => Buffer.from('{}'),
};

export const DOCKER_MANIFEST_MUTATIONS: Record<string, (rng: Rng, entries: Json[]) => unknown> = {
  generic: (r, e) => (genericMutation(r, { e }) as { e?: unknown }).e ?? [],
  empty: () => [],
  'not-array': (r, e) => r.pick([e[0], 'x', null, 7]),
  'config-missing-file': (_r, e) => [{ ...e[0], Config: 'nope.json' }],
  'config-escape': (r, e) => [{ ...e[0], Config: r.pick(['../../../etc/passwd', '/etc/passwd', './../x.json']) }],
  'layer-missing-file': (_r, e) => [{ ...e[0], Layers: [...(e[0]!.Layers as string[]), 'nope/layer.tar'] }],
  'layer-escape': (r, e) => [{ ...e[0], Layers: [r.pick(['../layer.tar', '/etc/passwd', './../../x'])] }],
  'layers-not-strings': (r, e) => [{ ...e[0], Layers: r.pick([[1], 'x', null, [null]]) }],
  'repo-tags-junk': (r, e) => [{ ...e[0], RepoTags: r.pick([7, [7], ['no-tag'], ['a:b:c:d'], null]) }],
  'two-images': (_r, e) => [...e, { ...e[0], RepoTags: ['other:latest'] }],
  'fewer-layers': (_r, e) => [{ ...e[0], Layers: [] }],
};
