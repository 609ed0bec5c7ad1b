/**
 * Validation at the boundary (issue 16): what the OCI image spec refuses is
 * refused with the field, entry or file named and a hint, and what it allows
 * stays accepted. Config runtime fields, oci-layout, descriptors whose media
 * type lies, layer bytes against their media type, tar archives without an
 * end marker, and entries no Linux root filesystem can hold.
 */
import { gzipSync } from 'node:zlib';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { sha256Digest } from '../toolchain/digest/digest.ts';
import { parseImageConfig } from '../toolchain/image/image-config.ts';
import { assertBuildableImage, assertDescribedAs, parseManifest } from '../toolchain/image/manifest.ts';
import { MediaType } from '../toolchain/image/media-types.ts';
import { readLayer } from '../toolchain/layers/layer-reader.ts';
import { checkLayoutVersion } from '../toolchain/source/oci-layout.ts';
import { readTar } from '../toolchain/tar/reader.ts';
import { encodeTar, type TarWriteMember } from '../toolchain/tar/writer.ts';
import { applyLayer } from '../toolchain/tree/apply-layer.ts';
import { RootfsTree } from '../toolchain/tree/rootfs-tree.ts';
import { oneChunk, readAll } from './helpers/tar-chunks.ts';

/** `fn` fails with a BadInputError matching `re` that carries a hint. */
async function refused(fn: () => unknown, re: RegExp): Promise<BadInputError> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.match((err as Error).message, re);
    assert.ok((err as BadInputError).hint, `a hint for: ${(err as Error).message}`);
    return err as BadInputError;
  }
  return assert.unreachable(`expected a refusal matching ${re}`) as never;
}

const configWith = (fields: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: fields, ...top }));
const WHERE = 'config sha256:c0ffee of test';

test('config: User in every form the spec allows is accepted; others are refused with config.User named', async () => {
  for (const user of ['', 'root', '1000', 'app:staff', '1000:1000', 'app:50', '0:wheel', 'www-data', 'a.b_c']) {
    assert.is(parseImageConfig(configWith({ User: user }), WHERE).runtime.user, user);
  }
  for (const user of ['a:b:c', '-1:-1', '99999999999999999999', ':', 'a:', ':b', '4294967295', 'x y', 'a\nb']) {
    await refused(() => parseImageConfig(configWith({ User: user }), WHERE), /^config sha256:c0ffee of test: config\.User .* is not user, uid, user:group or uid:gid/);
  }
  await refused(() => parseImageConfig(configWith({ User: 7 }), WHERE), /config\.User 7 must be a string/);
});

test('config: WorkingDir absolute, ExposedPorts port[/tcp|udp], Env NAME=VALUE, Volumes absolute, Entrypoint/Cmd strings', async () => {
  const ok = parseImageConfig(
    configWith({ WorkingDir: '/srv/app', ExposedPorts: { '80': {}, '53/udp': {}, '443/tcp': {} }, Env: ['A=', 'B=c=d'], Volumes: { '/data': {} }, Entrypoint: ['/bin/sh'], Cmd: null, Labels: { a: 'b' } }),
    WHERE,
  ).runtime;
  assert.equal([ok.workingDir, ok.exposedPorts, ok.env, ok.volumes, ok.cmd], ['/srv/app', ['443/tcp', '53/udp', '80'], ['A=', 'B=c=d'], ['/data'], []]);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ WorkingDir: 'relative' }, /config\.WorkingDir "relative" must be an absolute path/],
    [{ WorkingDir: '../../..' }, /config\.WorkingDir .* must be an absolute path/],
    [{ ExposedPorts: { 'abc/tcp': {} } }, /config\.ExposedPorts "abc\/tcp" is not port\/tcp, port\/udp or port/],
    [{ ExposedPorts: { '0/tcp': {} } }, /config\.ExposedPorts "0\/tcp"/],
    [{ ExposedPorts: { '65536': {} } }, /config\.ExposedPorts "65536"/],
    [{ ExposedPorts: ['80/tcp'] }, /config\.ExposedPorts .* must be an object/],
    [{ Env: ['NOEQUALS'] }, /config\.Env\[0\] "NOEQUALS" is not NAME=VALUE/],
    [{ Env: ['=x'] }, /config\.Env\[0\] "=x" is not NAME=VALUE/],
    [{ Env: 'PATH=/bin' }, /config\.Env .* must be an array of strings/],
    [{ Volumes: { relative: {} } }, /config\.Volumes "relative" must be an absolute path/],
    [{ Entrypoint: '/bin/sh -c x' }, /config\.Entrypoint .* must be an array of strings/],
    [{ Cmd: ['a\u0000b'] }, /config\.Cmd\[0\] .* contains a NUL byte/],
    [{ Labels: { a: 1 } }, /config\.Labels\["a"\] 1 must be a string/],
  ];
  for (const [fields, re] of cases) await refused(() => parseImageConfig(configWith(fields), WHERE), re);
  await refused(() => parseImageConfig(configWith({}, { config: [] }), WHERE), /config must be an object/);
  assert.equal(parseImageConfig(configWith({}, { config: null, rootfs: { type: 'layers', diff_ids: null } }), WHERE).diffIds, []);
});

test('oci-layout: present with imageLayoutVersion 1.x, else refused with a hint', async () => {
  checkLayoutVersion(Buffer.from('{"imageLayoutVersion":"1.0.0"}'), 'OCI layout d');
  checkLayoutVersion(Buffer.from('{"imageLayoutVersion":"1.1.0"}'), 'OCI layout d');
  await refused(() => checkLayoutVersion(undefined, 'OCI layout d'), /^OCI layout d has no oci-layout file/);
  await refused(() => checkLayoutVersion(Buffer.from('{"imageLayoutVersion":"9.9"}'), 'OCI layout d'), /imageLayoutVersion "9\.9"; hyperbuild reads version 1\.x/);
  await refused(() => checkLayoutVersion(Buffer.from('version: 1'), 'OCI layout d'), /oci-layout is not JSON/);
  await refused(() => checkLayoutVersion(Buffer.from('{}'), 'OCI layout d'), /has no imageLayoutVersion/);
});

const digest = `sha256:${'a'.repeat(64)}`;
const manifestBytes = (configType: string) =>
  Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: configType, digest, size: 2 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest, size: 2 }] }));

test('media types agree with what they describe: descriptors, config', async () => {
  const parsed = parseManifest(manifestBytes(MediaType.ociConfig), MediaType.ociManifest, 'manifest m');
  assertDescribedAs(parsed, MediaType.ociManifest, 'manifest m');
  assertDescribedAs(parsed, MediaType.dockerManifest, 'manifest m');
  await refused(() => assertDescribedAs(parsed, 'application/vnd.oci.image.layer.v1.tar+gzip', 'manifest m'), /descriptor says media type 'application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip' but it is an image manifest/);
  await refused(() => assertDescribedAs(parsed, MediaType.ociIndex, 'manifest m'), /but it is an image manifest/);
  const labelled = parseManifest(manifestBytes('application/vnd.oci.image.layer.v1.tar+gzip'), MediaType.ociManifest, 'manifest m');
  if (labelled.kind !== 'image') throw new Error('not an image manifest');
  await refused(() => assertBuildableImage(labelled.manifest, 'image x'), /the config has media type 'application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip', not an image config/);
});

async function drain(members: AsyncIterable<{ body: AsyncIterable<Buffer> }>): Promise<number> {
  let n = 0;
  for await (const m of members) {
    for await (const chunk of m.body) void chunk;
    n++;
  }
  return n;
}

test('layer bytes against the media type: an OCI tar label on gzip bytes is refused; Docker’s plain label is sniffed', async () => {
  const tar = encodeTar([{ entry: { path: 'a', type: 'file' }, data: Buffer.from('x') }]);
  const gz = gzipSync(tar);
  const desc = (mediaType: string) => ({ mediaType, digest: sha256Digest(gz), size: gz.length });
  await refused(() => drain(readLayer(oneChunk(gz), desc('application/vnd.oci.image.layer.v1.tar'), sha256Digest(tar), 'layer 1/1')), /^layer 1\/1: media type application\/vnd\.oci\.image\.layer\.v1\.tar says uncompressed tar but the content is gzip/);
  assert.is(await drain(readLayer(oneChunk(gz), desc('application/vnd.docker.image.rootfs.diff.tar'), sha256Digest(tar), 'layer 1/1')), 1);
});

test('tar: an archive file must end with its end-of-archive marker (requireEnd); a layer need not', async () => {
  const body = encodeTar([{ entry: { path: 'manifest.json', type: 'file' }, data: Buffer.from('[]') }], { end: false });
  const readWithEnd = async () => {
    for await (const m of readTar(oneChunk(body), 'archive f.tar', { requireEnd: true })) for await (const c of m.body) void c;
  };
  await refused(readWithEnd, /^archive f\.tar: truncated tar archive at offset 1024 after the entry 'manifest\.json': it ends without the end-of-archive marker/);
  assert.is((await readAll(oneChunk(body))).length, 1);
});

type M = TarWriteMember;
async function applyOne(members: M[]): Promise<void> {
  const tar = encodeTar(members);
  await applyLayer(new RootfsTree(), readTar(oneChunk(tar), 'layer 2/2 sha256:beef'), 0, 'layer 2/2 sha256:beef', { maxBytes: 1 << 30, bytesSoFar: 0 });
}

test('entries no Linux root filesystem can hold are refused with the layer and entry named, and the layer hint', async () => {
  const f = (path: string, extra: Partial<M['entry']> = {}): M => ({ entry: { path, type: 'file', ...extra }, data: Buffer.from('x') });
  const cases: [M[], RegExp][] = [
    [[f(`${'d/'.repeat(2100)}f`)], /^layer 2\/2 sha256:beef entry 'd\/d\/.*….* \(4201 bytes\)': its absolute path is 4202 bytes, more than Linux's 4095 \(PATH_MAX\)/],
    [[f('n'.repeat(256))], /a name on the path is 256 bytes, more than Linux's 255 \(NAME_MAX\)/],
    [[{ entry: { path: 'empty', type: 'symlink', linkname: '' } }], /entry 'empty': the symlink target is 0 bytes; Linux needs 1 to 4095/],
    [[{ entry: { path: 'dev', type: 'chardev', devmajor: 5000, devminor: 1 } }], /entry 'dev': device 5000:1 is out of Linux's range/],
    [[f('big-id', { uid: 2 ** 32 })], /entry 'big-id': owner 4294967296:0 is out of Linux's 32-bit uid\/gid range/],
    [[f('.wh..')], /whiteout '\.wh\.\.': a whiteout must name the file it deletes/],
    [[f('x/.wh...')], /whiteout 'x\/\.wh\.\.\.': a whiteout must name the file it deletes \('\.wh\.' \+ its name\), not '\.\.'/],
    [[f('../escape')], /entry '\.\.\/escape': '\.\.\/escape' climbs out of the root filesystem/],
  ];
  for (const [members, re] of cases) {
    const err = await refused(() => applyOne(members), re);
    assert.match(err.hint!, /layer named above is damaged, hand-made or hostile/);
  }
  await applyOne([f('.wh.gone'), f('d/.wh..wh..opq'), f('.wh..wh.plnk')]);
});

test.run();
