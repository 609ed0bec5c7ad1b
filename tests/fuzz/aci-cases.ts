/**
 * ACI (appc image) fuzz cases: an archive of `manifest` + `rootfs/` written
 * with our tar writer, then its manifest mutated (generic JSON mutations and
 * the fields the appc spec has rules for), its rootfs members mutated (the
 * structural layer mutations, under rootfs/), or the archive's bytes or
 * compression damaged.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeTar, type TarWriteMember } from '../../toolchain/tar/writer.ts';
import { genericMutation } from './json-mutations.ts';
import { BYTE_LEVEL, STRUCTURAL, baseMembers } from './layer-mutations.ts';
import type { Rng } from './rng.ts';

type Json = Record<string, unknown>;

const BASE_MANIFEST: Json = {
  acKind: 'ImageManifest',
  acVersion: '0.8.11',
  name: 'example.com/hbfz',
  labels: [
    { name: 'os', value: 'linux' },
    { name: 'arch', value: 'amd64' },
  ],
  app: { exec: ['/bin/sh'], user: '0', group: '0', workingDirectory: '/', environment: [{ name: 'A', value: 'b' }] },
};

const app = (m: Json) => m.app as Json;

const MANIFEST_MUTATIONS: Record<string, (rng: Rng, m: Json) => unknown> = {
  generic: genericMutation,
  'ac-version': (r, m) => ({ ...m, acVersion: r.pick(['0.7.0', '1.0.0', '', 'x', 8]) }),
  'ac-kind': (r, m) => ({ ...m, acKind: r.pick(['PodManifest', '', null]) }),
  name: (r, m) => ({ ...m, name: r.pick(['', 'UPPER/case', '../../x', 'a b', 'x'.repeat(300)]) }),
  exec: (r, m) => ({ ...m, app: { ...app(m), exec: r.pick([[], 'sh', [1], ['relative'], null]) } }),
  'user-group': (r, m) => ({ ...m, app: { ...app(m), [r.pick(['user', 'group'])]: r.pick(['', '/etc/missing', 'nobody', '-1', '99999999999', 7, '/../../etc/passwd']) } }),
  ports: (r, m) => ({ ...m, app: { ...app(m), ports: r.pick([[{ name: 'http', protocol: 'tcp', port: 99999 }], [{ name: 'x', protocol: 'icmp', port: 1 }], 'x', [{}]]) } }),
  'mount-points': (r, m) => ({ ...m, app: { ...app(m), mountPoints: r.pick([[{ name: 'w', path: 'relative' }], [{ name: '', path: '/w' }], [{ name: 'w', path: '/w' }, { name: 'w', path: '/v' }], {}]) } }),
  dependencies: (r, m) => ({ ...m, dependencies: r.pick([[{ imageName: 'example.com/nowhere' }], [{}], 'x', [{ imageName: 'example.com/hbfz' }]]) }),
  'path-whitelist': (r, m) => ({ ...m, pathWhitelist: r.pick([['relative'], ['/../../etc'], 'x', [7]]) }),
  labels: (r, m) => ({ ...m, labels: r.pick([[{ name: 'os', value: 'windows' }], [{ name: 'arch', value: 'arm64' }], [{ name: 'os' }], {}, [{ name: 'os', value: 'linux' }, { name: 'os', value: 'linux' }]]) }),
};

const prefixed = (members: TarWriteMember[]): TarWriteMember[] =>
  members.map((m) => ({ ...m, entry: { ...m.entry, path: `rootfs/${m.entry.path}`, ...(m.entry.type === 'hardlink' ? { linkname: `rootfs/${m.entry.linkname}` } : {}) } }));

function aciMembers(manifest: Buffer, rootfs: TarWriteMember[]): TarWriteMember[] {
  return [{ entry: { path: 'manifest', type: 'file' }, data: manifest }, { entry: { path: 'rootfs/', type: 'directory' } }, ...prefixed(rootfs)];
}

/** The mutation names an ACI case may draw. */
export function aciMutations(): string[] {
  const structural = Object.keys(STRUCTURAL).filter((s) => !['pax-bogus-length', 'gnu-longname-8g'].includes(s));
  return ['valid', ...Object.keys(MANIFEST_MUTATIONS).map((m) => `manifest:${m}`), ...structural.map((s) => `rootfs:${s}`), ...Object.keys(BYTE_LEVEL).map((b) => `bytes:${b}`), 'compression:gzip', 'compression:junk-magic', 'rootfs:escape-member'];
}

/** Write the ACI for `mutation` under dir; returns the reference. */
export function writeAci(rng: Rng, mutation: string, dir: string): string {
  const [kind, name] = mutation.split(':') as [string, string];
  let manifest: unknown = BASE_MANIFEST;
  let rootfs = baseMembers(rng);
  if (kind === 'manifest') manifest = MANIFEST_MUTATIONS[name]!(rng, structuredClone(BASE_MANIFEST));
  if (kind === 'rootfs' && name !== 'escape-member') {
    const made = STRUCTURAL[name]!(rng, rootfs);
    if (!Buffer.isBuffer(made)) rootfs = made;
  }
  let members = aciMembers(Buffer.from(JSON.stringify(manifest)), rootfs);
  if (name === 'escape-member') members = [...members, { entry: { path: 'rootfs/../../hbfzmark-aci', type: 'file' }, data: Buffer.from('x') }];
  let bytes = encodeTar(members);
  if (kind === 'bytes') bytes = BYTE_LEVEL[name]!(rng, bytes);
  if (name === 'gzip') bytes = gzipSync(bytes);
  if (name === 'junk-magic') bytes = Buffer.concat([Buffer.from('\x04\x22\x4d\x18', 'latin1'), bytes]);
  const file = join(dir, 'image.aci');
  writeFileSync(file, bytes);
  return `aci:${file}`;
}
