/**
 * Layer tars for the fuzzer: a small valid base layer whose names carry the
 * escape marker, and the mutations tried on it, structural (names, links,
 * PAX, GNU, sparse, whiteouts, sizes, times) and byte-level (bit flips,
 * truncation, rewritten numeric fields with the header checksum fixed so the
 * change reaches the field parser).
 */
import { BLOCK_SIZE, computeChecksum } from '../../toolchain/tar/header.ts';
import { encodeTar, paxRecord, type TarWriteMember } from '../../toolchain/tar/writer.ts';
import type { Rng } from './rng.ts';

/** Every name the fuzzer makes contains this; `find -name` afterwards proves none landed on the host. */
export const MARKER = 'hbfzmark';

const file = (path: string, data: Buffer | string, extra: Partial<TarWriteMember> = {}): TarWriteMember => ({
  entry: { path, type: 'file', mtime: 1_600_000_000 },
  data: typeof data === 'string' ? Buffer.from(data) : data,
  ...extra,
});
const dir = (path: string): TarWriteMember => ({ entry: { path, type: 'directory', mtime: 1_600_000_000 } });
const symlink = (path: string, target: string): TarWriteMember => ({ entry: { path, type: 'symlink', linkname: target } });
const hardlink = (path: string, target: string): TarWriteMember => ({ entry: { path, type: 'hardlink', linkname: target } });

/** A valid layer: directories, files, a symlink and a hardlink, all named with the marker. */
export function baseMembers(rng: Rng): TarWriteMember[] {
  const members = [dir(`${MARKER}-d/`), file(`${MARKER}-d/f1`, rng.bytes(rng.int(0, 3000))), file(`${MARKER}-top`, `hello ${rng.seed}\n`)];
  members.push(symlink(`${MARKER}-link`, `${MARKER}-d/f1`), hardlink(`${MARKER}-hard`, `${MARKER}-top`));
  for (let i = rng.int(0, 4); i > 0; i--) members.push(file(`${MARKER}-d/n${i}`, rng.bytes(rng.int(0, 700))));
  return members;
}

/** Header offsets of the numeric fields a mutation may rewrite. */
const FIELDS = { mode: [100, 8], uid: [108, 8], gid: [116, 8], size: [124, 12], mtime: [136, 12], devmajor: [329, 8], devminor: [337, 8] } as const;

/** Offsets of the header blocks of a well-formed tar (walks sizes; stops at the end marker). */
function headerOffsets(tar: Buffer): number[] {
  const out: number[] = [];
  for (let off = 0; off + BLOCK_SIZE <= tar.length; ) {
    const block = tar.subarray(off, off + BLOCK_SIZE);
    if (block.every((b) => b === 0)) break;
    out.push(off);
    const size = parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
    off += BLOCK_SIZE + Math.ceil((Number.isFinite(size) ? size : 0) / BLOCK_SIZE) * BLOCK_SIZE;
  }
  return out;
}

function fixChecksum(tar: Buffer, off: number): void {
  const block = tar.subarray(off, off + BLOCK_SIZE);
  block.write(`${computeChecksum(block).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

type Structural = (rng: Rng, m: TarWriteMember[]) => TarWriteMember[] | Buffer;
type ByteLevel = (rng: Rng, tar: Buffer) => Buffer;

const longPath = (n: number) => `${MARKER}/${'d/'.repeat(Math.ceil(n / 2))}f`.slice(0, n);

/** Mutations on the member list (encoded afterwards by the tar writer, or written raw). */
export const STRUCTURAL: Record<string, Structural> = {
  none: (_r, m) => m,
  'dotdot-name': (r, m) => [...m, file(r.pick([`../${MARKER}-esc`, `a/../../${MARKER}-esc`, `${MARKER}-d/../../../${MARKER}-esc`]), 'x')],
  'absolute-name': (r, m) => [...m, file(r.pick([`/${MARKER}-abs`, `/../../${MARKER}-abs`, `//${MARKER}-abs`]), 'x')],
  'nul-name': (_r, m) => [...m, file(`${MARKER}\0-nul`, 'x')],
  'empty-name': (_r, m) => [...m, file('', 'x')],
  'dot-names': (r, m) => [...m, r.pick([file('.', 'x'), file('./', 'x'), dir('./'), file('..', 'x')])],
  'symlink-parent-escape': (_r, m) => [...m, symlink(`${MARKER}-sl`, '../../../../../tmp'), file(`${MARKER}-sl/${MARKER}-through`, 'x')],
  'symlink-absolute-parent': (_r, m) => [...m, symlink(`${MARKER}-sa`, '/tmp'), file(`${MARKER}-sa/${MARKER}-through`, 'x')],
  'hardlink-escape': (r, m) => [...m, hardlink(`${MARKER}-he`, r.pick(['../../etc/passwd', '/etc/passwd', `${MARKER}-missing`, `${MARKER}-d`]))],
  'path-through-file': (_r, m) => [...m, file(`${MARKER}-top/${MARKER}-under`, 'x')],
  'path-40k': (_r, m) => [...m, file(longPath(40_000), 'x')],
  'path-over-path-max': (r, m) => [...m, file(longPath(r.int(4096, 4200)), 'x')],
  'component-over-name-max': (r, m) => [...m, file(`${MARKER}-${'n'.repeat(r.int(250, 300))}`, 'x')],
  'many-entries': (r, m) => [...m, ...Array.from({ length: r.int(5_000, 20_000) }, (_, i) => file(`${MARKER}-many/${i}`, ''))],
  'huge-declared-size': (r, m) => [...m, file(`${MARKER}-big`, 'x', { raw: { declaredSize: r.pick([2 ** 33, 2 ** 40, 0o77777777777]) } })],
  'pax-size': (r, m) => [...m, file(`${MARKER}-ps`, 'x', { raw: { pax: [['size', r.pick(['-1', '1e9', '99999999999999999999', 'abc', '', '0x10'])]] } })],
  'pax-mtime': (r, m) => [...m, file(`${MARKER}-pm`, 'x', { raw: { pax: [['mtime', r.pick(['-99999999999', '99999999999999', '1.5', '-1.5', 'nan', '4294967296', '1e3'])]] } })],
  'pax-ids': (r, m) => [...m, file(`${MARKER}-pi`, 'x', { raw: { pax: [[r.pick(['uid', 'gid']), r.pick(['-1', '4294967296', '99999999999999999999', 'x'])]] } })],
  'pax-path-nul': (_r, m) => [...m, file(`${MARKER}-pp`, 'x', { raw: { pax: [['path', Buffer.from(`${MARKER}\0evil`)]] } })],
  'pax-linkpath-escape': (_r, m) => [...m, { entry: { path: `${MARKER}-pl`, type: 'hardlink', linkname: 'x' }, raw: { pax: [['linkpath', '../../../etc/shadow']] } }],
  'pax-xattr-junk': (r, m) => [...m, file(`${MARKER}-px`, 'x', { raw: { pax: [[r.pick(['SCHILY.xattr.', 'SCHILY.xattr.user.' + 'x'.repeat(300), 'LIBARCHIVE.xattr.%%%']), 'v']] } })],
  'pax-bogus-length': (r, m) => {
    const tar = encodeTar(m, { end: false });
    const records = Buffer.from(r.pick(['99999 path=x\n', '5 path=x\n', 'x path=y\n', '12 path\n', '0 =\n', '18446744073709551616 path=x\n']));
    const head = encodeTar([{ entry: { path: 'PaxHeaders/x', type: 'file' }, data: records, raw: { typeflag: 'x' } }], { end: false });
    return Buffer.concat([tar, head, encodeTar([file(`${MARKER}-after`, 'x')])]);
  },
  'gnu-longname-8g': (r, m) => {
    const tar = encodeTar(m, { end: false });
    const head = encodeTar([{ entry: { path: '././@LongLink', type: 'file' }, data: Buffer.from('x'), raw: { typeflag: r.pick(['L', 'K']), declaredSize: 8 * 2 ** 30 } }], { end: false });
    return Buffer.concat([tar, head, Buffer.alloc(4096)]);
  },
  'gnu-longname-chain': (_r, m) => [...m, file(`${MARKER}-${'g'.repeat(200)}`, 'x', { raw: { gnuLongNames: true } }), file(`${MARKER}-${'h'.repeat(300)}`, 'y', { raw: { gnuLongNames: true } })],
  'sparse-pax': (r, m) => [
    ...m,
    file(`${MARKER}-sp`, 'xxxx', {
      raw: { pax: r.pick([[['GNU.sparse.major', '1'], ['GNU.sparse.minor', '0'], ['GNU.sparse.name', `${MARKER}-sp`], ['GNU.sparse.realsize', String(r.pick([-1, 2 ** 60, 10]))]], [['GNU.sparse.size', '99999999999'], ['GNU.sparse.numblocks', '3'], ['GNU.sparse.offset', '0'], ['GNU.sparse.numbytes', '999']], [['GNU.sparse.map', r.pick(['0,4,1', 'a,b', '0,-4', '9999999999999999999,1', '0,4,2,4'])], ['GNU.sparse.realsize', '8']]]) as Array<[string, string]> },
    }),
  ],
  'sparse-old-gnu': (r, m) => [...m, file(`${MARKER}-og`, r.bytes(r.int(0, 1500)), { raw: { typeflag: 'S' } })],
  'odd-typeflag': (r, m) => [...m, file(`${MARKER}-tf`, r.bytes(r.int(0, 600)), { raw: { typeflag: r.pick(['V', 'M', 'X', '7', 'Z', 'D', 'N', '\x80', 'A']) } })],
  'device-and-fifo': (r, m) => [...m, { entry: { path: `${MARKER}-dev`, type: r.pick(['chardev', 'blockdev', 'fifo'] as const), devmajor: r.int(0, 2 ** 21), devminor: r.int(0, 2 ** 21) } }],
  'dir-with-data': (r, m) => [...m, { entry: { path: `${MARKER}-dd/`, type: 'directory' }, data: r.bytes(700), raw: { dataForAnyType: true } }],
  'symlink-with-data': (r, m) => [...m, { entry: { path: `${MARKER}-sd`, type: 'symlink', linkname: 't' }, data: r.bytes(100), raw: { dataForAnyType: true } }],
  'empty-symlink': (_r, m) => [...m, symlink(`${MARKER}-es`, '')],
  'long-symlink-target': (r, m) => [...m, symlink(`${MARKER}-ls`, 't'.repeat(r.int(4000, 70_000)))],
  whiteout: (r, m) => [...m, file(r.pick(['.wh.', '.wh..', '.wh...', `${MARKER}-d/.wh.`, `.wh.${MARKER}-top`, '.wh..wh..opq', `${MARKER}-d/.wh..wh..opq`, '.wh..wh.plnk', `.wh./${MARKER}`]), r.chance(0.5) ? '' : 'data')],
  'whiteout-dir': (_r, m) => [...m, dir(`.wh.${MARKER}-d/`)],
  'reserved-hyperstart': (r, m) => [...m, file(r.pick(['.hyperstart/init', './.hyperstart', '/.hyperstart/spec']), 'x')],
  'trailer-name': (_r, m) => [...m, file('TRAILER!!!', 'x')],
  'type-change': (r, m) => [...m, r.pick([dir(`${MARKER}-top/`), file(`${MARKER}-d`, 'x'), symlink(`${MARKER}-d`, '/')]), file(`${MARKER}-d/${MARKER}-after`, 'y')],
  duplicates: (_r, m) => [...m, ...m],
  'root-as-file': (_r, m) => [file('./', 'x'), ...m],
  'odd-modes': (r, m) => [...m, { ...file(`${MARKER}-mode`, 'x'), entry: { path: `${MARKER}-mode`, type: 'file', mode: r.pick([0o7777, 0, 0o4755, 0o170000]) } }],
  'latin1-name': (r, m) => [...m, file(`${MARKER}-\xff\xfe-${String.fromCharCode(r.int(128, 255))}`, 'x')],
  'mtime-extremes': (r, m) => [...m, { ...file(`${MARKER}-mt`, 'x'), entry: { path: `${MARKER}-mt`, type: 'file', mtime: r.pick([-1, -(2 ** 40), 2 ** 32, 2 ** 40, 0o77777777777]) } }],
  'ids-extremes': (r, m) => [...m, { ...file(`${MARKER}-id`, 'x'), entry: { path: `${MARKER}-id`, type: 'file', uid: r.pick([2 ** 32, 2 ** 31, 2 ** 21, 65534]), gid: r.pick([2 ** 32 + 5, 0]) } }],
  'global-pax': (r, m) => [{ entry: { path: 'pax_global_header', type: 'file' }, data: Buffer.concat([paxRecord(r.pick(['path', 'mtime', 'comment', 'size']), Buffer.from(r.pick(['x', '-1', '../../esc'])))]), raw: { typeflag: 'g' } }, ...m],
};

/** Mutations on the encoded bytes. */
export const BYTE_LEVEL: Record<string, ByteLevel> = {
  'bit-flips': (r, tar) => {
    const out = Buffer.from(tar);
    for (let i = r.int(1, 8); i > 0; i--) {
      const at = r.int(0, out.length - 1);
      out[at] = out[at]! ^ (1 << r.int(0, 7));
    }
    return out;
  },
  'bit-flips-checksum-fixed': (r, tar) => {
    const out = Buffer.from(tar);
    const headers = headerOffsets(out);
    const off = r.pick(headers);
    for (let i = r.int(1, 4); i > 0; i--) {
      const at = off + r.int(0, 499);
      if (at >= off + 148 && at < off + 156) continue;
      out[at] = out[at]! ^ (1 << r.int(0, 7));
    }
    fixChecksum(out, off);
    return out;
  },
  truncate: (r, tar) => tar.subarray(0, r.int(0, tar.length - 1)),
  'truncate-at-block': (r, tar) => tar.subarray(0, BLOCK_SIZE * r.int(0, Math.floor(tar.length / BLOCK_SIZE) - 1)),
  'numeric-field': (r, tar) => {
    const out = Buffer.from(tar);
    const off = r.pick(headerOffsets(out));
    const [start, len] = FIELDS[r.pick(Object.keys(FIELDS) as (keyof typeof FIELDS)[])];
    const field = out.subarray(off + start, off + start + len);
    const kind = r.int(0, 5);
    if (kind === 0) field.fill(0x37); // all 7s: no terminator
    else if (kind === 1) field.write(' '.repeat(len), 'latin1');
    else if (kind === 2) {
      field.fill(0);
      field[0] = 0x80; // base-256, positive
      field.set(r.bytes(len - 1), 1);
    } else if (kind === 3) {
      field.fill(0xff); // base-256, negative
    } else if (kind === 4) field.write('-1'.padEnd(len, '\0'), 'latin1');
    else field.set(r.bytes(len));
    fixChecksum(out, off);
    return out;
  },
  'no-end-marker': (_r, tar) => {
    let end = tar.length;
    while (end >= BLOCK_SIZE && tar.subarray(end - BLOCK_SIZE, end).every((b) => b === 0)) end -= BLOCK_SIZE;
    return tar.subarray(0, end);
  },
  'garbage-after-end': (r, tar) => Buffer.concat([tar, r.bytes(r.int(1, 2048))]),
  'lone-zero-block': (r, tar) => {
    const headers = headerOffsets(tar);
    const at = r.pick(headers.slice(1).length ? headers.slice(1) : headers);
    return Buffer.concat([tar.subarray(0, at), Buffer.alloc(BLOCK_SIZE), tar.subarray(at)]);
  },
};

/** One layer tar: a structural mutation, then (sometimes) a byte-level one. */
export function mutatedLayer(rng: Rng, mutation: string): Buffer {
  const [structural, byteLevel] = mutation.split('+');
  const made = STRUCTURAL[structural!]!(rng, baseMembers(rng));
  const tar = Buffer.isBuffer(made) ? made : encodeTar(made);
  return byteLevel ? BYTE_LEVEL[byteLevel]!(rng, tar) : tar;
}

/** The mutation names a layer case may draw: every structural one alone, and the base with each byte-level one. */
export function layerMutations(): string[] {
  return [...Object.keys(STRUCTURAL), ...Object.keys(BYTE_LEVEL).map((b) => `none+${b}`), ...['dotdot-name', 'sparse-pax', 'gnu-longname-chain', 'whiteout'].flatMap((s) => ['bit-flips-checksum-fixed', 'numeric-field'].map((b) => `${s}+${b}`))];
}
