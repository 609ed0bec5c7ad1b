/**
 * The streaming tar reader: members of ustar, GNU, v7 and PAX archives (GNU
 * sparse in all four encodings) as entries with single-use bodies, straight
 * from the byte stream, for image layers, image archives and ACIs.
 */
import { BadInputError } from '../errors/errors.ts';
import { displayPath, type ByteString } from '../paths/byte-string.ts';
import { ChunkReader } from './chunk-reader.ts';
import type { TarEntry, TarEntryType } from './entry.ts';
import { decodeGnuLongName } from './gnu-longname.ts';
import { BLOCK_SIZE, decodeHeader, isZeroBlock, type RawHeader } from './header.ts';
import { applyPaxRecords, emptyPaxFields, mergePaxFields, paxFieldsBytes, parsePaxRecords, type PaxFields } from './pax.ts';
import {
  expandSparse,
  oldGnuSparseExtension,
  oldGnuSparseHeader,
  paxSparseInfo,
  readSparse10Map,
  validateSparseLayout,
  type SparseLayout,
} from './sparse.ts';
import { entryTypeOf, isHeaderOnly } from './typeflag.ts';

export interface TarMember {
  entry: TarEntry;
  /**
   * File content (expanded, for sparse files). Read it before asking for the
   * next member or not at all: whatever is left is skipped then, and reading
   * it afterwards throws.
   */
  body: AsyncIterable<Buffer>;
}

/** PAX and GNU long-name records beyond this are hostile: real names and xattrs are far smaller. */
export const MAX_METADATA_RECORD = 1024 * 1024;

/** The part of the archive the current member's body still occupies. */
interface BodyCursor {
  path: ByteString;
  /** Stored bytes not yet handed to the consumer or skipped. */
  remaining: number;
  /** Zero bytes up to the next block boundary after the stored bytes. */
  padding: number;
  /** Set once the reader has moved past this member. */
  finished: boolean;
  /** The reader skipped body bytes the consumer never read; a late read must fail, not look like EOF. */
  skipped: boolean;
}

/** Names in errors: quoted, with control characters escaped so a hostile name cannot break the one-line message. */
function quoted(path: ByteString): string {
  const text = displayPath(path).replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `'${text}'`;
}

function paddingFor(size: number): number {
  return (BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE;
}

/**
 * Streams members out of a tar archive (ustar, GNU, v7, PAX; GNU sparse in
 * all four encodings). `label` names the archive in errors, e.g. 'layer sha256:abcd…'.
 *
 * Decisions worth knowing:
 * - Name precedence: PAX path/linkpath over GNU 'L'/'K' over the ustar fields.
 * - 'V' (volume label) headers are skipped; 'M' (multi-volume continuation)
 *   and every other unknown typeflag is an error, since its data cannot be
 *   placed correctly.
 * - Header-only types (1-6) never have data, whatever their size field says.
 * - Old archives mark directories as type '\0' with a trailing '/' (no data);
 *   GNU dumpdirs ('D') are directories whose listing is skipped.
 * - Global PAX headers apply to later members, except path/linkpath/size and
 *   sparse keys, which are refused (see applyPaxRecords).
 * - A body can be iterated once.
 * - End: two zero blocks, one zero block then EOF, or EOF at a block
 *   boundary. After the end the rest of the source is read and discarded so
 *   that upstream digest checks see every byte. With `requireEnd` (archives
 *   no digest covers: docker save, oci-archive and ACI files), EOF without a zero
 *   block is named as a truncation. Image layers need not: their digests
 *   prove the bytes are all their author published, marker or not, and
 *   some writers leave it out.
 */
export async function* readTar(source: AsyncIterable<Buffer>, label: string, opts: { requireEnd?: boolean } = {}): AsyncGenerator<TarMember> {
  const scanner = new TarScanner(new ChunkReader(source), label, opts.requireEnd === true);
  try {
    for (;;) {
      await scanner.skipRestOfBody();
      const group = await scanner.nextHeaderGroup();
      if (group === undefined) return;
      yield await scanner.member(group);
    }
  } finally {
    await scanner.close();
  }
}

/** A real entry's header and the metadata pseudo-entries (PAX, GNU long names) that came before it. */
interface HeaderGroup {
  header: RawHeader;
  offset: number;
  local: PaxFields;
  longName?: ByteString;
  longLink?: ByteString;
}

/** The reader's state between members: where the input is, global PAX fields, and the body being read. */
class TarScanner {
  private readonly global = emptyPaxFields();
  private current: BodyCursor | undefined;
  /** For errors in a header, which has no trustworthy name of its own. */
  private previousPath: ByteString | undefined;

  constructor(
    private readonly input: ChunkReader,
    private readonly label: string,
    private readonly requireEnd: boolean,
  ) {}

  close(): Promise<void> {
    return this.input.close();
  }

  truncated(what: string): BadInputError {
    return new BadInputError(`${this.label}: truncated tar archive ${what}`, {
      hint: 'The archive ends early; the download or the file is incomplete.',
    });
  }

  /** Move past whatever the consumer left of the previous member's body (and its padding). */
  async skipRestOfBody(): Promise<void> {
    const cursor = this.current;
    if (cursor === undefined) return;
    cursor.finished = true;
    cursor.skipped = cursor.remaining > 0;
    const want = cursor.remaining + cursor.padding;
    const skipped = await this.input.skip(want);
    if (skipped < want) {
      throw this.truncated(
        skipped < cursor.remaining
          ? `in the body of ${quoted(cursor.path)} (${cursor.remaining - skipped} bytes missing)`
          : `in the padding after ${quoted(cursor.path)}`,
      );
    }
    cursor.remaining = 0;
    this.current = undefined;
  }

  /** Reads a metadata body (PAX, GNU long name) fully, refusing oversized ones. */
  private async readMetadata(header: RawHeader, what: string, offset: number): Promise<Buffer> {
    if (header.size > MAX_METADATA_RECORD) {
      throw new BadInputError(
        `${this.label}: ${what} at offset ${offset} is ${header.size} bytes; more than ${MAX_METADATA_RECORD} is not a real archive`,
      );
    }
    const data = await this.input.readExact(header.size);
    const padding = paddingFor(header.size);
    if (data.length < header.size || (await this.input.skip(padding)) < padding) {
      throw this.truncated(`in the ${what} at offset ${offset}`);
    }
    return data;
  }

  /**
   * Read headers until a real entry's: metadata pseudo-entries accumulate
   * until the entry they describe. Undefined at the end of the archive, after
   * the rest of the input has been drained.
   */
  async nextHeaderGroup(): Promise<HeaderGroup | undefined> {
    const group: Omit<HeaderGroup, 'header' | 'offset'> = { local: emptyPaxFields() };
    let pendingMetadata: string | undefined;
    for (;;) {
      const offset = this.input.offset;
      const block = await this.input.readExact(BLOCK_SIZE);
      if (block.length === 0 || isZeroBlock(block)) {
        await this.endOfArchive(block, offset, pendingMetadata);
        return undefined;
      }
      if (block.length < BLOCK_SIZE) {
        const after = pendingMetadata ?? (this.previousPath === undefined ? undefined : `the entry ${quoted(this.previousPath)}`);
        throw this.truncated(`in the header at offset ${offset}${after === undefined ? '' : ` (after ${after})`}`);
      }
      const where = `${this.label}: offset ${offset}`;
      const header = decodeHeader(block, where);
      const metadata = await this.readMetadataEntry(header, offset, where, group);
      if (metadata === undefined) return { ...group, header, offset };
      if (metadata !== 'ignored') pendingMetadata = metadata;
    }
  }

  /** An end marker: nothing may follow a lone zero block, and no metadata may be left waiting for its entry. */
  private async endOfArchive(block: Buffer, offset: number, pendingMetadata: string | undefined): Promise<void> {
    if (pendingMetadata !== undefined) throw this.truncated(`after ${pendingMetadata}: no entry follows it`);
    if (block.length === 0 && this.requireEnd) {
      const after = this.previousPath === undefined ? '' : ` after the entry ${quoted(this.previousPath)}`;
      throw this.truncated(`at offset ${offset}${after}: it ends without the end-of-archive marker (zero blocks)`);
    }
    if (block.length > 0) {
      const second = await this.input.readExact(BLOCK_SIZE);
      if (second.length > 0 && !second.every((b) => b === 0)) {
        throw new BadInputError(`${this.label}: tar archive has a lone zero block at offset ${offset} followed by more data`);
      }
    }
    await this.input.drain();
  }

  /**
   * Fold a metadata pseudo-entry into `group` (or the global PAX fields).
   * Returns what now waits for an entry, 'ignored' for a volume label, and
   * undefined when `header` is a real entry.
   */
  private async readMetadataEntry(header: RawHeader, offset: number, where: string, group: Omit<HeaderGroup, 'header' | 'offset'>): Promise<string | 'ignored' | undefined> {
    if (header.typeflag === 'x' || header.typeflag === 'g') {
      const isGlobal = header.typeflag === 'g';
      const records = parsePaxRecords(await this.readMetadata(header, isGlobal ? 'global PAX header' : 'PAX header', offset), where);
      applyPaxRecords(isGlobal ? this.global : group.local, records, where, isGlobal);
      if (paxFieldsBytes(this.global) + paxFieldsBytes(group.local) > MAX_METADATA_RECORD) {
        throw new BadInputError(`${where}: PAX metadata adds up to more than ${MAX_METADATA_RECORD} bytes`);
      }
      return isGlobal ? 'ignored' : `the PAX header at offset ${offset}`;
    }
    if (header.typeflag === 'L' || header.typeflag === 'K') {
      const name = decodeGnuLongName(await this.readMetadata(header, 'GNU long name', offset));
      if (header.typeflag === 'L') group.longName = name;
      else group.longLink = name;
      return `the GNU long name at offset ${offset}`;
    }
    if (header.typeflag === 'V') {
      // Volume labels name the tape, not a file; GNU tar writes them with --label.
      const skip = header.size + paddingFor(header.size);
      if ((await this.input.skip(skip)) < skip) throw this.truncated(`in the volume label at offset ${offset}`);
      return 'ignored';
    }
    return undefined;
  }

  /** The member a header group describes; its body reads from the input until the next call to skipRestOfBody. */
  async member({ header, offset, local, longName, longLink }: HeaderGroup): Promise<TarMember> {
    const pax = mergePaxFields(this.global, local);
    const path = pax.path ?? longName ?? header.path;
    const type = this.entryType(header, path, offset);
    const where = `${this.label}: ${quoted(path)} at offset ${offset}`;
    const headerOnly = isHeaderOnly(header.typeflag) || type !== entryTypeOf(header.typeflag);
    const storedSize = headerOnly ? 0 : (pax.size ?? header.size);
    const cursor: BodyCursor = { path, remaining: storedSize, padding: paddingFor(storedSize), finished: false, skipped: false };
    this.current = cursor;
    this.previousPath = path;
    const sparse = await this.sparseLayout(header, type, pax, cursor, where);
    const isDevice = type === 'chardev' || type === 'blockdev';
    const isLink = type === 'hardlink' || type === 'symlink';
    const entry: TarEntry = {
      path: cursor.path,
      type,
      mode: header.mode,
      uid: pax.uid ?? header.uid,
      gid: pax.gid ?? header.gid,
      mtime: pax.mtime ?? header.mtime,
      size: type === 'file' ? (sparse?.realSize ?? storedSize) : 0,
      linkname: isLink ? (pax.linkpath ?? longLink ?? header.linkname) : '',
      devmajor: isDevice ? header.devmajor : 0,
      devminor: isDevice ? header.devminor : 0,
      xattrs: pax.xattrs,
    };
    return { entry, body: type === 'file' ? this.fileBody(cursor, sparse) : emptyBody };
  }

  /** The entry type, refusing unknown typeflags; v7 marks directories as type '\0' with a trailing '/' (Go's archive/tar reads it the same way). */
  private entryType(header: RawHeader, path: ByteString, offset: number): TarEntryType {
    const type = entryTypeOf(header.typeflag);
    if (type === undefined) {
      const flag = header.typeflag;
      const shown = /^[\x21-\x7e]$/.test(flag) ? `'${flag}'` : `0x${flag.charCodeAt(0).toString(16).padStart(2, '0')}`;
      throw new BadInputError(
        `${this.label}: ${quoted(path)} at offset ${offset} has unsupported tar entry type ${shown}`,
        { hint: flag === 'M' ? 'Multi-volume archives are not supported.' : undefined },
      );
    }
    return header.typeflag === '\0' && path.endsWith('/') ? 'directory' : type;
  }

  /**
   * The sparse map of a sparse file, read from wherever its encoding keeps it
   * (old GNU extension blocks, PAX records, or the start of the body, which
   * may also rename the member); undefined for any other entry.
   */
  private async sparseLayout(header: RawHeader, type: TarEntryType, pax: PaxFields, cursor: BodyCursor, where: string): Promise<SparseLayout | undefined> {
    let sparse: SparseLayout | undefined;
    if (header.typeflag === 'S') {
      const { layout, extended } = oldGnuSparseHeader(header.block, where);
      // Extension blocks sit between header and data and are not counted in the size field.
      for (let more = extended; more; ) {
        const block = await this.input.readExact(BLOCK_SIZE);
        if (block.length < BLOCK_SIZE) throw this.truncated(`in the sparse map of ${quoted(cursor.path)}`);
        more = oldGnuSparseExtension(block, layout.segments, where);
      }
      sparse = layout;
    } else if (type === 'file' && pax.sparse.length > 0) {
      const info = paxSparseInfo(pax.sparse, where);
      if (info === undefined) return undefined;
      if (info.name !== undefined) cursor.path = this.previousPath = info.name;
      if (info.version === '1.0') info.segments = (await readSparse10Map(() => this.readMapBlock(cursor, where), where)).segments;
      sparse = { realSize: info.realSize, segments: info.segments };
    }
    if (sparse !== undefined) validateSparseLayout(sparse, cursor.remaining, where);
    return sparse;
  }

  /** One block of a PAX 1.0 sparse map, which is counted in the stored data. */
  private async readMapBlock(cursor: BodyCursor, where: string): Promise<Buffer> {
    if (cursor.remaining < BLOCK_SIZE) throw new BadInputError(`${where}: GNU sparse map runs past the stored data`);
    const block = await this.input.readExact(BLOCK_SIZE);
    if (block.length < BLOCK_SIZE) throw this.truncated(`in the sparse map of ${quoted(cursor.path)}`);
    cursor.remaining -= BLOCK_SIZE;
    return block;
  }

  /** A file's content: the stored bytes, or their expansion with holes for a sparse file. */
  private fileBody(cursor: BodyCursor, sparse: SparseLayout | undefined): AsyncIterable<Buffer> {
    const stale = (): Error => new Error(`tar body of ${quoted(cursor.path)} read after moving to the next member`);
    const readData = async (max: number): Promise<Buffer> => {
      if (cursor.finished) throw stale();
      const chunk = await this.input.readSome(Math.min(max, cursor.remaining));
      if (chunk.length === 0) throw this.truncated(`in the body of ${quoted(cursor.path)} (${cursor.remaining} bytes missing)`);
      cursor.remaining -= chunk.length;
      return chunk;
    };
    if (sparse !== undefined) return singleUse(cursor, () => expandSparse(sparse, readData));
    return singleUse(cursor, async function* () {
      for (;;) {
        if (cursor.skipped) throw stale();
        if (cursor.remaining === 0) return;
        yield await readData(cursor.remaining);
      }
    });
  }
}

/**
 * A body can be iterated once: a second pass would see only the rest of the
 * stream (and a sparse expansion would restart its holes), silently corrupting content.
 */
function singleUse(cursor: BodyCursor, iterate: () => AsyncIterator<Buffer>): AsyncIterable<Buffer> {
  let used = false;
  return {
    [Symbol.asyncIterator]() {
      if (used) throw new Error(`tar body of ${quoted(cursor.path)} iterated twice`);
      used = true;
      return iterate();
    },
  };
}

const emptyBody: AsyncIterable<Buffer> = {
  async *[Symbol.asyncIterator]() {},
};
