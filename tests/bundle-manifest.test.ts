/**
 * The strict bundle.json parser on hostile input: every field wrong in turn
 * (missing, wrong type), file names that are paths, duplicate names, bad
 * digests, unsafe sizes, unknown enums and schemas. Each defect has one
 * wording, asserted here exactly.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BUNDLE_MEDIA_TYPE, BUNDLE_SCHEMA_VERSION, MAX_KERNEL_BYTES, type BundleManifest } from '../toolchain/bundle/manifest.ts';
import { PLAIN_NAME_RULE } from '../toolchain/bundle/manifest-fields.ts';
import { parseBundleManifest } from '../toolchain/bundle/parse-manifest.ts';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { BadInputError } from '../toolchain/errors/errors.ts';

const D = (s: string) => sha256Digest(s);
const SHA_RULE = 'a sha256 digest (sha256: and 64 lowercase hex digits)';
/** How a bad string is quoted in messages: JSON, cut at 80 characters. */
const shown = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);

/** A manifest with every optional field present, so every field can be broken in turn. */
const FULL: BundleManifest = {
  schemaVersion: BUNDLE_SCHEMA_VERSION,
  mediaType: BUNDLE_MEDIA_TYPE,
  source: { reference: 'oci:x:1', manifestDigest: D('m'), configDigest: D('c'), platform: 'linux/amd64' },
  image: {
    entrypoint: ['/bin/sh'], cmd: ['-c', 'true'], env: ['PATH=/bin'], workingDir: '/', user: '0:0', exposedPorts: ['80/tcp'], volumes: ['/data'],
    labels: { a: 'b' }, stopSignal: 'SIGTERM', portNames: { '80/tcp': 'http' }, volumeNames: { '/data': 'data' },
  },
  kernel: { name: 'kernel', digest: D('k'), size: 10, kind: 'hyperkernel', release: '6.1.0', format: 'vmlinux', pvh: true, configDigest: D('cfg'), modular: false },
  initramfs: { name: 'initramfs.cpio.lz4', digest: D('i'), size: 20, compression: 'lz4', uncompressedSize: 40 },
  rootfs: { name: 'rootfs.ext4', digest: D('r'), size: 30, type: 'ext4' },
  cmdline: 'rdinit=/.hyperstart/init panic=-1',
  hyperstart: { version: '1', digest: D('hs') },
  rootfsBytes: 50,
  sourceDateEpoch: 1_700_000_000,
  buildKey: D('key'),
};
const OPTIONAL = ['kernel.release', 'kernel.configDigest', 'image.stopSignal', 'image.portNames', 'image.volumeNames', 'rootfs', 'sourceDateEpoch'];

type Json = Record<string, unknown>;
const clone = (): Json => JSON.parse(JSON.stringify(FULL)) as Json;

/** A copy of FULL with `path` (dotted) set to `value`, or deleted for undefined. */
function withField(path: string, value: unknown): Json {
  const root = clone();
  const keys = path.split('.');
  let at = root;
  for (const k of keys.slice(0, -1)) at = at[k] as Json;
  if (value === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
  return root;
}

/** Every field path of FULL down to leaves (arrays and string maps are leaves). */
function fieldPaths(o: Json, prefix = ''): string[] {
  return Object.entries(o).flatMap(([k, v]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    const nested = typeof v === 'object' && v !== null && !Array.isArray(v) && !['labels', 'portNames', 'volumeNames'].includes(k);
    return nested ? [p, ...fieldPaths(v as Json, p)] : [p];
  });
}

function refusal(input: Parameters<typeof parseBundleManifest>[0]): BadInputError {
  try {
    parseBundleManifest(input, 'L');
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.ok((err as BadInputError).hint, 'every refusal has a hint');
    return err as BadInputError;
  }
  assert.unreachable('expected a BadInputError, the manifest was accepted');
  throw new Error('unreachable');
}

const refused = (input: Parameters<typeof parseBundleManifest>[0]) => refusal(input).message;

test('a full manifest round-trips; unknown fields are dropped; bytes, text and objects parse alike', () => {
  assert.equal(parseBundleManifest(clone(), 'L'), FULL);
  const bytes = Buffer.from(JSON.stringify({ ...FULL, future: { x: 1 } }));
  const parsed = parseBundleManifest(bytes, 'L');
  assert.equal(parsed, FULL);
  assert.not.ok('future' in parsed);
  assert.equal(parseBundleManifest(bytes.toString(), 'L'), FULL);
  for (const p of OPTIONAL) parseBundleManifest(withField(p, undefined), 'L');
});

test('every required field, missing in turn, is named', () => {
  const paths = fieldPaths(FULL as unknown as Json).filter((p) => !OPTIONAL.some((o) => p === o || p.startsWith(`${o}.`)));
  assert.ok(paths.length >= 35, `${paths.length} required fields`);
  for (const p of paths) assert.is(refused(withField(p, undefined)), `L: ${p} is missing`, p);
});

test('every field, with a value of the wrong type in turn, is named with what it must be', () => {
  const wrong = (v: unknown) => (typeof v === 'string' ? 42 : typeof v === 'number' ? '7' : typeof v === 'boolean' ? 'yes' : Array.isArray(v) ? 'x' : 3);
  for (const p of fieldPaths(FULL as unknown as Json)) {
    const original = p.split('.').reduce<unknown>((o, k) => (o as Json)[k], FULL);
    const bad = wrong(original);
    const message = refused(withField(p, bad));
    assert.ok(message.startsWith(`L: ${p} must be `), `${p}: ${message}`);
    assert.ok(message.endsWith(`, not ${typeof bad === 'string' ? JSON.stringify(bad) : bad}`), `${p}: ${message}`);
  }
});

test('schema version and media type: refused with the newer-hyperbuild hint', () => {
  for (const [path, value, message] of [
    ['schemaVersion', 2, 'L: schemaVersion must be 1, not 2'],
    ['schemaVersion', '1', 'L: schemaVersion must be 1, not "1"'],
    ['schemaVersion', undefined, 'L: schemaVersion is missing'],
    ['mediaType', 'application/vnd.hyperbuild.bundle.v2+json', `L: mediaType must be ${BUNDLE_MEDIA_TYPE}, not "application/vnd.hyperbuild.bundle.v2+json"`],
  ] as const) {
    const err = refusal(withField(path, value));
    assert.is(err.message, message);
    assert.is(err.hint, 'a newer hyperbuild may be needed to read this bundle');
    assert.is(err.exitCode, 2);
  }
});

test('file names: one plain component, never a path, never bundle.json', () => {
  for (const name of ['sub dir/kernel', '../x', 'a/b', '/etc/passwd', '.', '..', '', 'bundle.json', 'x\u0000y', 'ké', 'a b', 'x'.repeat(256), 'new\nline']) {
    for (const role of ['kernel', 'initramfs', 'rootfs']) {
      assert.is(refused(withField(`${role}.name`, name)), `L: ${role}.name must be ${PLAIN_NAME_RULE}, not ${shown(name)}`);
    }
  }
  parseBundleManifest(withField('kernel.name', 'x'.repeat(255)), 'L');
  parseBundleManifest(withField('kernel.name', 'vmlinuz-6.1.0+hyper_1'), 'L');
});

test('two files sharing a name are refused', () => {
  assert.is(refused(withField('initramfs.name', 'kernel')), 'L: kernel.name and initramfs.name are both "kernel"');
  assert.is(refused(withField('rootfs.name', 'initramfs.cpio.lz4')), 'L: initramfs.name and rootfs.name are both "initramfs.cpio.lz4"');
});

test('digests: sha256 and 64 lowercase hex digits, everywhere', () => {
  const hex = 'a'.repeat(64);
  for (const bad of [`sha256:${hex.slice(1)}`, `sha256:${'A'.repeat(64)}`, `sha512:${'a'.repeat(128)}`, `md5:${hex}`, ` sha256:${hex}`, `sha256:${hex}\n`, hex]) {
    for (const path of ['kernel.digest', 'initramfs.digest', 'rootfs.digest', 'kernel.configDigest', 'source.manifestDigest', 'source.configDigest', 'hyperstart.digest', 'buildKey']) {
      assert.is(refused(withField(path, bad)), `L: ${path} must be ${SHA_RULE}, not ${shown(bad)}`);
    }
  }
});

test('sizes: safe non-negative integers only', () => {
  for (const bad of [-1, 1.5, 2 ** 53, 1e300, -0.5]) {
    for (const path of ['kernel.size', 'initramfs.size', 'rootfs.size', 'initramfs.uncompressedSize', 'rootfsBytes', 'sourceDateEpoch']) {
      assert.is(refused(withField(path, bad)), `L: ${path} must be a non-negative integer, not ${bad}`);
    }
  }
  assert.is(refused(withField('kernel.size', null)), 'L: kernel.size must be a non-negative integer, not null');
  parseBundleManifest(withField('kernel.size', 0), 'L');
  parseBundleManifest(withField('kernel.size', Number.MAX_SAFE_INTEGER), 'L');
});

test('enums: compression, rootfs type, kernel kind and format', () => {
  assert.is(refused(withField('initramfs.compression', 'brotli')), 'L: initramfs.compression must be one of none, gzip, zstd, lz4, not "brotli"');
  assert.is(refused(withField('rootfs.type', 'btrfs')), 'L: rootfs.type must be one of ext4, erofs, not "btrfs"');
  assert.is(refused(withField('kernel.kind', 'other')), 'L: kernel.kind must be one of hyperkernel, debian-cloud, custom, not "other"');
  assert.is(refused(withField('kernel.format', 'zImage')), 'L: kernel.format must be one of vmlinux, bzImage, not "zImage"');
  assert.is(refused(withField('kernel.pvh', 1)), 'L: kernel.pvh must be true or false, not 1');
});

test('lists and maps: the bad element is named', () => {
  assert.is(refused(withField('image.cmd', ['sh', 1])), 'L: image.cmd[1] must be a string, not 1');
  assert.is(refused(withField('image.env', [null])), 'L: image.env[0] must be a string, not null');
  assert.is(refused(withField('image.labels', { ok: 'x', bad: { deep: 1 } })), 'L: image.labels["bad"] must be a string, not an object');
  assert.is(refused(withField('image.portNames', ['http'])), 'L: image.portNames must be an object of strings, not a list');
  assert.is(refused(withField('kernel', [])), 'L: kernel must be an object, not a list');
  assert.is(refused(withField('source', null)), 'L: source must be an object, not null');
});

test('not JSON, not an object, too big', () => {
  assert.match(refused(Buffer.from('{"schemaVersion":')), /^L is not valid JSON: /);
  assert.is(refused(Buffer.from('[1]')), 'L is not a JSON object');
  assert.is(refused('null'), 'L is not a JSON object');
  assert.match(refused(Buffer.alloc(5 * 1024 * 1024, 0x20)), /^L is 5242880 bytes, over the \d+-byte limit for manifests$/);
  // A long hostile value is shortened in the message.
  assert.is(refused(withField('kernel.kind', 'x'.repeat(10_000))), `L: kernel.kind must be one of hyperkernel, debian-cloud, custom, not "${'x'.repeat(80)}…"`);
  assert.is(refused(withField('source.platform', { x: 'y'.repeat(100_000) })), 'L: source.platform must be a string, not an object');
});

/** FULL's kernel stored gzip-compressed: the three fields together. */
function compressedKernel(over: Json = {}): Json {
  const root = clone();
  root.kernel = { ...(root.kernel as Json), name: 'kernel.gz', compression: 'gzip', uncompressedDigest: D('vmlinux'), uncompressedSize: 12_000_000, ...over };
  for (const [k, v] of Object.entries(over)) if (v === undefined) delete (root.kernel as Json)[k];
  return root;
}

test('a compressed kernel: compression, uncompressedDigest and uncompressedSize, each checked; an old bundle has none', () => {
  const parsed = parseBundleManifest(compressedKernel(), 'L');
  assert.equal([parsed.kernel.name, parsed.kernel.compression, parsed.kernel.uncompressedDigest, parsed.kernel.uncompressedSize], ['kernel.gz', 'gzip', D('vmlinux'), 12_000_000]);
  assert.not.ok('compression' in parseBundleManifest(clone(), 'L').kernel, 'no field, no compression: the kernel boots as it is');
  assert.is(refused(compressedKernel({ compression: 'zstd' })), 'L: kernel.compression must be one of gzip, not "zstd"');
  assert.is(refused(compressedKernel({ compression: true })), 'L: kernel.compression must be one of gzip, not true');
  assert.is(refused(compressedKernel({ uncompressedDigest: undefined })), 'L: kernel.uncompressedDigest is missing');
  assert.is(refused(compressedKernel({ uncompressedDigest: 'sha256:x' })), `L: kernel.uncompressedDigest must be ${SHA_RULE}, not "sha256:x"`);
  assert.is(refused(compressedKernel({ uncompressedSize: undefined })), 'L: kernel.uncompressedSize is missing');
  assert.is(refused(compressedKernel({ uncompressedSize: -1 })), 'L: kernel.uncompressedSize must be a non-negative integer, not -1');
  parseBundleManifest(compressedKernel({ uncompressedSize: MAX_KERNEL_BYTES }), 'L');
  assert.is(refused(compressedKernel({ uncompressedSize: MAX_KERNEL_BYTES + 1 })), `L: kernel.uncompressedSize must be at most ${MAX_KERNEL_BYTES} (256 MiB), not ${MAX_KERNEL_BYTES + 1}`);
  // What unpacks to what is stated only for a compressed kernel.
  assert.is(refused(compressedKernel({ compression: undefined })), 'L: kernel.uncompressedDigest is only for a compressed kernel, and kernel.compression is missing');
  assert.is(refused(compressedKernel({ compression: undefined, uncompressedDigest: undefined })), 'L: kernel.uncompressedSize is only for a compressed kernel, and kernel.compression is missing');
});

test.run();
