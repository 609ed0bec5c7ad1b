/**
 * PAX extended headers: parsing records (on bytes) and folding them into an
 * entry's fields, with the rules for global headers.
 */
import { BadInputError } from '../errors/errors.ts';
import { bytesToByteString, type ByteString } from '../paths/byte-string.ts';

/**
 * One `LEN KEY=VALUE\n` record. Parsed on bytes, never decoded as UTF-8:
 * SCHILY.xattr values are binary (security.capability) and paths may be any bytes.
 */
export interface PaxRecord {
  key: ByteString;
  value: Buffer;
}

/** What PAX records contribute to an entry. Absent fields fall back to the next layer down. */
export interface PaxFields {
  path?: ByteString;
  linkpath?: ByteString;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  /** Names as byte strings (xattr names are bytes to the kernel too). */
  xattrs: Map<string, Buffer>;
  /** GNU.sparse.* records in archive order; 0.0 repeats offset/numbytes keys, so order matters. */
  sparse: PaxRecord[];
}

export function emptyPaxFields(): PaxFields {
  return { xattrs: new Map(), sparse: [] };
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const EQUALS = 0x3d;

export function parsePaxRecords(data: Buffer, where: string): PaxRecord[] {
  const records: PaxRecord[] = [];
  let pos = 0;
  while (pos < data.length) {
    // Tolerate NUL padding after the last record; some writers round the data up.
    if (data[pos] === 0 && data.subarray(pos).every((b) => b === 0)) break;
    const space = data.indexOf(SPACE, pos);
    if (space === -1 || space === pos || space - pos > 16) {
      throw new BadInputError(`${where}: malformed PAX record at byte ${pos}: no length`);
    }
    let length = 0;
    for (let i = pos; i < space; i++) {
      const c = data[i]!;
      if (c < 0x30 || c > 0x39) throw new BadInputError(`${where}: malformed PAX record at byte ${pos}: bad length`);
      length = length * 10 + (c - 0x30);
    }
    const end = pos + length;
    if (end > data.length || end <= space + 1 || data[end - 1] !== NEWLINE) {
      throw new BadInputError(`${where}: malformed PAX record at byte ${pos}: length ${length} does not fit`);
    }
    const equals = data.indexOf(EQUALS, space + 1);
    if (equals === -1 || equals === space + 1 || equals >= end - 1) {
      throw new BadInputError(`${where}: malformed PAX record at byte ${pos}: no KEY=VALUE`);
    }
    records.push({
      key: bytesToByteString(data.subarray(space + 1, equals)),
      // Copied so a long-lived xattr value does not pin the whole input chunk.
      value: Buffer.from(data.subarray(equals + 1, end - 1)),
    });
    pos = end;
  }
  return records;
}

/**
 * Folds records into fields. For a global ('g') header, keys that name or
 * size one specific file are refused: readers disagree on them (Go's
 * archive/tar, used by Docker and containerd, ignores global headers
 * entirely), so an archive relying on them would unpack differently elsewhere.
 */
export function applyPaxRecords(fields: PaxFields, records: PaxRecord[], where: string, global: boolean): void {
  const xattrsSetHere = new Set<string>();
  const setXattr = (name: string, value: Buffer, key: string): void => {
    // bsdtar writes each xattr twice (LIBARCHIVE.* and SCHILY.*); GNU tar reads only one of
    // them, libarchive the other, so a header where they differ unpacks differently per tool.
    if (xattrsSetHere.has(name) && !fields.xattrs.get(name)!.equals(value)) {
      throw new BadInputError(`${where}: PAX record ${shown(key)} contradicts an earlier value for xattr ${shown(name)}`);
    }
    xattrsSetHere.add(name);
    fields.xattrs.set(name, value);
  };
  for (const { key, value } of records) {
    // As Go's archive/tar: a NUL would make C-string readers (GNU tar, the kernel) see a different name.
    if (key.includes('\0') || ((key === 'path' || key === 'linkpath' || key === 'GNU.sparse.name') && value.includes(0))) {
      throw new BadInputError(`${where}: PAX record ${shown(key)} contains a NUL byte`);
    }
    if (global && (key === 'path' || key === 'linkpath' || key === 'size' || key.startsWith('GNU.sparse.'))) {
      throw new BadInputError(`${where}: global PAX header sets ${shown(key)}, which is ambiguous across tar readers`);
    }
    // An empty value deletes any global value too: the ustar field applies (an own
    // property set to undefined records that for mergePaxFields).
    const empty = value.length === 0;
    switch (key) {
      case 'path':
        if (empty) fields.path = undefined;
        else fields.path = bytesToByteString(value);
        break;
      case 'linkpath':
        if (empty) fields.linkpath = undefined;
        else fields.linkpath = bytesToByteString(value);
        break;
      case 'size':
      case 'uid':
      case 'gid':
        if (empty) fields[key] = undefined;
        else fields[key] = parseDecimal(value, key, where);
        break;
      case 'mtime':
        if (empty) fields.mtime = undefined;
        else fields.mtime = parseTime(value, where);
        break;
      default:
        if (key.startsWith('SCHILY.xattr.')) {
          // An empty value is a real, empty xattr, not a deletion.
          setXattr(requireName(key.slice('SCHILY.xattr.'.length), key, where), value, key);
        } else if (key.startsWith('LIBARCHIVE.xattr.')) {
          const name = requireName(urlDecode(key.slice('LIBARCHIVE.xattr.'.length), key, where), key, where);
          setXattr(name, base64Decode(value, key, where), key);
        } else if (key.startsWith('GNU.sparse.')) {
          fields.sparse.push({ key, value });
        }
        // Everything else (uname, gname, atime, ctime, charset, comment, vendor keys) is
        // irrelevant to the unpacked tree; POSIX says unknown keys are ignored.
        break;
    }
  }
}

/** Entry-local fields over global ones. */
export function mergePaxFields(global: PaxFields, local: PaxFields): PaxFields {
  let xattrs = local.xattrs;
  if (global.xattrs.size > 0) {
    xattrs = new Map(global.xattrs);
    for (const [name, value] of local.xattrs) xattrs.set(name, value);
  }
  // An own property (even undefined) in local is an override or a deletion.
  const pick = <K extends 'path' | 'linkpath' | 'size' | 'uid' | 'gid' | 'mtime'>(key: K): PaxFields[K] =>
    Object.hasOwn(local, key) ? local[key] : global[key];
  return {
    xattrs,
    sparse: local.sparse,
    path: pick('path'),
    linkpath: pick('linkpath'),
    size: pick('size'),
    uid: pick('uid'),
    gid: pick('gid'),
    mtime: pick('mtime'),
  };
}

/** Bytes held by accumulated fields, to bound what a stream of global headers can pile up. */
export function paxFieldsBytes(fields: PaxFields): number {
  let total = (fields.path?.length ?? 0) + (fields.linkpath?.length ?? 0);
  for (const [name, value] of fields.xattrs) total += name.length + value.length;
  for (const { key, value } of fields.sparse) total += key.length + value.length;
  return total;
}

/** Keys and names in errors, quoted, control bytes escaped: the message must stay one line. */
function shown(text: string): string {
  return `'${text.replace(/[\x00-\x1f\x7f-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

function requireName(name: string, key: string, where: string): string {
  if (name === '') throw new BadInputError(`${where}: PAX record ${shown(key)} has an empty xattr name`);
  return name;
}

export function parseDecimal(value: Buffer, key: string, where: string): number {
  const text = value.toString('latin1');
  if (!/^[0-9]{1,16}$/.test(text)) throw new BadInputError(`${where}: PAX record ${shown(key)} is not a decimal number`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new BadInputError(`${where}: PAX record ${shown(key)} is out of range`);
  return n;
}

function parseTime(value: Buffer, where: string): number {
  const match = /^(-?[0-9]{1,16})(\.[0-9]*)?$/.exec(value.toString('latin1'));
  if (match === null) throw new BadInputError(`${where}: PAX record 'mtime' is not a time`);
  const n = Number(match[1]);
  if (!Number.isSafeInteger(n)) throw new BadInputError(`${where}: PAX record 'mtime' is out of range`);
  // Integer part only: that is truncation toward zero, as documented on TarEntry.mtime.
  return n === 0 ? 0 : n;
}

/** libarchive percent-encodes xattr names; the result is bytes, kept as a byte string. */
function urlDecode(encoded: string, key: string, where: string): string {
  if (!encoded.includes('%')) return encoded;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded.charCodeAt(i);
    if (c === 0x25) {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new BadInputError(`${where}: PAX record ${shown(key)} has a bad %-escape`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(c);
    }
  }
  return Buffer.from(bytes).toString('latin1');
}

function base64Decode(value: Buffer, key: string, where: string): Buffer {
  const text = value.toString('latin1');
  // Buffer's decoder skips junk silently; reject it so a corrupt value is not turned into other bytes.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new BadInputError(`${where}: PAX record ${shown(key)} is not base64`);
  return Buffer.from(text, 'base64');
}
