/**
 * Small deterministic tar writer for test fixtures and hostile-layer
 * generators: same input, same bytes. It writes ustar headers and adds a PAX
 * 'x' header only when a value does not fit ustar (long or non-ASCII names,
 * big ids/sizes/times, xattrs). Paths are written exactly as given, so '..'
 * and absolute names go through untouched; `raw` adds deliberate damage.
 */
import { byteStringToBytes, type ByteString } from '../paths/byte-string.ts';
import type { TarEntry, TarEntryType } from './entry.ts';
import { GNU_LONGNAME_PLACEHOLDER } from './gnu-longname.ts';
import { BLOCK_SIZE, computeChecksum } from './header.ts';
import { TYPEFLAG_OF } from './typeflag.ts';

export interface TarWriteMember {
  /** entry.size is ignored: the size written is data.length (or raw.declaredSize). */
  entry: Partial<TarEntry> & { path: ByteString; type: TarEntryType };
  /** Body of a file; ignored for other types unless raw.dataForAnyType. */
  data?: Buffer;
  raw?: {
    /** Typeflag byte to write instead of the one for entry.type (e.g. 'V', 'M', 'X'). */
    typeflag?: string;
    /** Size field to claim instead of data.length (the data written is unchanged). */
    declaredSize?: number;
    /** Store a wrong checksum. */
    badChecksum?: boolean;
    /** Extra PAX records, written after the ones the writer needs, in this order. */
    pax?: Array<[key: string, value: Buffer | string]>;
    /** Never emit a PAX header: long values are cut to the ustar field instead. */
    noPax?: boolean;
    /** Emit long names as GNU 'L'/'K' records instead of PAX. */
    gnuLongNames?: boolean;
    /** Write data after header-only types too (size field set to its length). */
    dataForAnyType?: boolean;
  };
}

export interface EncodeTarOptions {
  /** Append the two zero blocks that end an archive (default true). */
  end?: boolean;
}

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

export function encodeTar(members: TarWriteMember[], options: EncodeTarOptions = {}): Buffer {
  const parts: Buffer[] = [];
  for (const member of members) encodeMember(member, parts);
  if (options.end ?? true) parts.push(Buffer.alloc(2 * BLOCK_SIZE));
  return Buffer.concat(parts);
}

function encodeMember({ entry, data, raw = {} }: TarWriteMember, parts: Buffer[]): void {
  const type = entry.type;
  const carriesData = type === 'file' || raw.dataForAnyType === true;
  const body = carriesData ? (data ?? Buffer.alloc(0)) : Buffer.alloc(0);
  const size = raw.declaredSize ?? body.length;
  const uid = entry.uid ?? 0;
  const gid = entry.gid ?? 0;
  const mtime = entry.mtime ?? 0;
  const linkname = entry.linkname ?? '';

  const pax: Array<[string, Buffer]> = [];
  const needsPax = (s: ByteString, limit: number): boolean => s.length > limit || /[^\x01-\x7f]/.test(s);
  if (needsPax(entry.path, 100)) {
    if (raw.gnuLongNames) parts.push(...gnuLongRecord('L', entry.path));
    else pax.push(['path', byteStringToBytes(entry.path)]);
  }
  if (needsPax(linkname, 100)) {
    if (raw.gnuLongNames) parts.push(...gnuLongRecord('K', linkname));
    else pax.push(['linkpath', byteStringToBytes(linkname)]);
  }
  if (uid > MAX_OCTAL_7) pax.push(['uid', Buffer.from(String(uid))]);
  if (gid > MAX_OCTAL_7) pax.push(['gid', Buffer.from(String(gid))]);
  if (size > MAX_OCTAL_11) pax.push(['size', Buffer.from(String(size))]);
  if (mtime < 0 || mtime > MAX_OCTAL_11) pax.push(['mtime', Buffer.from(String(mtime))]);
  for (const [name, value] of entry.xattrs ?? []) pax.push([`SCHILY.xattr.${name}`, value]);
  for (const [key, value] of raw.pax ?? []) pax.push([key, typeof value === 'string' ? Buffer.from(value, 'latin1') : value]);
  if (pax.length > 0 && !raw.noPax) {
    const records = Buffer.concat(pax.map(([key, value]) => paxRecord(key, value)));
    parts.push(header({ path: paxHeaderName(entry.path), typeflag: 'x', size: records.length }), padded(records));
  }

  const block = header({
    path: entry.path,
    typeflag: raw.typeflag ?? TYPEFLAG_OF[type],
    size,
    mode: entry.mode ?? (type === 'directory' ? 0o755 : 0o644),
    uid,
    gid,
    mtime,
    linkname,
    devmajor: entry.devmajor ?? 0,
    devminor: entry.devminor ?? 0,
  });
  if (raw.badChecksum) block[148] = block[148] === 0x31 ? 0x32 : 0x31;
  parts.push(block, padded(body));
}

interface HeaderFields {
  path: ByteString;
  typeflag: string;
  size: number;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  linkname?: ByteString;
  devmajor?: number;
  devminor?: number;
}

function header(f: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK_SIZE);
  // Values that do not fit are cut here; encodeMember has already put them in PAX.
  block.write(f.path.slice(0, 100), 0, 'latin1');
  octal(block, 100, 8, f.mode ?? 0o644);
  octal(block, 108, 8, Math.min(f.uid ?? 0, MAX_OCTAL_7));
  octal(block, 116, 8, Math.min(f.gid ?? 0, MAX_OCTAL_7));
  octal(block, 124, 12, Math.min(f.size, MAX_OCTAL_11));
  octal(block, 136, 12, Math.max(0, Math.min(f.mtime ?? 0, MAX_OCTAL_11)));
  block.write(f.typeflag.slice(0, 1), 156, 'latin1');
  block.write((f.linkname ?? '').slice(0, 100), 157, 'latin1');
  block.write('ustar\u000000', 257, 'latin1');
  octal(block, 329, 8, f.devmajor ?? 0);
  octal(block, 337, 8, f.devminor ?? 0);
  block.write(`${computeChecksum(block).toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return block;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  const text = Math.trunc(value).toString(8).padStart(length - 1, '0');
  if (text.length > length - 1) throw new RangeError(`${value} does not fit a ${length}-byte tar field`);
  block.write(text, offset, 'latin1');
}

/** `LEN KEY=VALUE\n`, where LEN counts its own digits. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key, 'latin1') + value.length + 3; // ' ', '=', '\n'
  let digits = String(rest).length;
  while (String(rest + digits).length !== digits) digits++;
  const length = rest + digits;
  return Buffer.concat([Buffer.from(`${length} ${key}=`, 'latin1'), value, Buffer.from('\n')]);
}

function paxHeaderName(path: ByteString): ByteString {
  const base = path.replace(/\/+$/, '').split('/').pop() ?? '';
  return `PaxHeaders/${base}`.slice(0, 100);
}

function gnuLongRecord(typeflag: 'L' | 'K', name: ByteString): Buffer[] {
  const data = Buffer.concat([byteStringToBytes(name), Buffer.alloc(1)]);
  return [header({ path: GNU_LONGNAME_PLACEHOLDER, typeflag, size: data.length }), padded(data)];
}

function padded(data: Buffer): Buffer {
  const rem = data.length % BLOCK_SIZE;
  return rem === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK_SIZE - rem)]);
}
