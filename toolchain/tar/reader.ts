import { BadInputError } from '../errors/errors.ts';
import { displayPath, type ByteString } from '../paths/byte-string.ts';
import { ChunkReader } from './chunk-reader.ts';
import type { TarEntry } from './entry.ts';
import { decodeGnuLongName } from './gnu-longname.ts';
import { BLOCK_SIZE, decodeHeader, isZeroBlock, type RawHeader } from './header.ts';
import { applyPaxRecords, emptyPaxFields, mergePaxFields, paxFieldsBytes, parsePaxRecords } from './pax.ts';
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
 *   that upstream digest checks see every byte.
 */
export async function* readTar(source: AsyncIterable<Buffer>, label: string): AsyncGenerator<TarMember> {
  const input = new ChunkReader(source);
  const global = emptyPaxFields();
  let current: BodyCursor | undefined;
  /** For errors in a header, which has no trustworthy name of its own. */
  let previousPath: ByteString | undefined;

  const truncated = (what: string): BadInputError =>
    new BadInputError(`${label}: truncated tar archive ${what}`, {
      hint: 'The archive ends early; the download or the file is incomplete.',
    });

  /** Reads a metadata body (PAX, GNU long name) fully, refusing oversized ones. */
  const readMetadata = async (header: RawHeader, what: string, offset: number): Promise<Buffer> => {
    if (header.size > MAX_METADATA_RECORD) {
      throw new BadInputError(
        `${label}: ${what} at offset ${offset} is ${header.size} bytes; more than ${MAX_METADATA_RECORD} is not a real archive`,
      );
    }
    const data = await input.readExact(header.size);
    const padding = paddingFor(header.size);
    if (data.length < header.size || (await input.skip(padding)) < padding) {
      throw truncated(`in the ${what} at offset ${offset}`);
    }
    return data;
  };

  try {
    for (;;) {
      if (current !== undefined) {
        const cursor = current;
        cursor.finished = true;
        cursor.skipped = cursor.remaining > 0;
        const want = cursor.remaining + cursor.padding;
        const skipped = await input.skip(want);
        if (skipped < want) {
          throw truncated(
            skipped < cursor.remaining
              ? `in the body of ${quoted(cursor.path)} (${cursor.remaining - skipped} bytes missing)`
              : `in the padding after ${quoted(cursor.path)}`,
          );
        }
        cursor.remaining = 0;
        current = undefined;
      }

      // Metadata pseudo-entries accumulate until the real entry they describe.
      const local = emptyPaxFields();
      let longName: ByteString | undefined;
      let longLink: ByteString | undefined;
      let pendingMetadata: string | undefined;
      let header: RawHeader;
      let headerOffset: number;
      for (;;) {
        headerOffset = input.offset;
        const block = await input.readExact(BLOCK_SIZE);
        if (block.length === 0 || isZeroBlock(block)) {
          if (pendingMetadata !== undefined) {
            throw truncated(`after ${pendingMetadata}: no entry follows it`);
          }
          if (block.length > 0) {
            const second = await input.readExact(BLOCK_SIZE);
            if (second.length > 0 && !second.every((b) => b === 0)) {
              throw new BadInputError(
                `${label}: tar archive has a lone zero block at offset ${headerOffset} followed by more data`,
              );
            }
          }
          await input.drain();
          return;
        }
        if (block.length < BLOCK_SIZE) {
          const after = pendingMetadata ?? (previousPath === undefined ? undefined : `the entry ${quoted(previousPath)}`);
          throw truncated(`in the header at offset ${headerOffset}${after === undefined ? '' : ` (after ${after})`}`);
        }
        const where = `${label}: offset ${headerOffset}`;
        header = decodeHeader(block, where);
        if (header.typeflag === 'x' || header.typeflag === 'g') {
          const isGlobal = header.typeflag === 'g';
          const what = isGlobal ? 'global PAX header' : 'PAX header';
          const records = parsePaxRecords(await readMetadata(header, what, headerOffset), where);
          applyPaxRecords(isGlobal ? global : local, records, where, isGlobal);
          if (paxFieldsBytes(global) + paxFieldsBytes(local) > MAX_METADATA_RECORD) {
            throw new BadInputError(`${where}: PAX metadata adds up to more than ${MAX_METADATA_RECORD} bytes`);
          }
          if (!isGlobal) pendingMetadata = `the PAX header at offset ${headerOffset}`;
        } else if (header.typeflag === 'L' || header.typeflag === 'K') {
          const name = decodeGnuLongName(await readMetadata(header, 'GNU long name', headerOffset));
          if (header.typeflag === 'L') longName = name;
          else longLink = name;
          pendingMetadata = `the GNU long name at offset ${headerOffset}`;
        } else if (header.typeflag === 'V') {
          // Volume labels name the tape, not a file; GNU tar writes them with --label.
          const skip = header.size + paddingFor(header.size);
          if ((await input.skip(skip)) < skip) throw truncated(`in the volume label at offset ${headerOffset}`);
        } else {
          break;
        }
      }

      const pax = mergePaxFields(global, local);
      let path = pax.path ?? longName ?? header.path;
      const type = entryTypeOf(header.typeflag);
      if (type === undefined) {
        const flag = header.typeflag;
        const shown = /^[\x21-\x7e]$/.test(flag) ? `'${flag}'` : `0x${flag.charCodeAt(0).toString(16).padStart(2, '0')}`;
        throw new BadInputError(
          `${label}: ${quoted(path)} at offset ${headerOffset} has unsupported tar entry type ${shown}`,
          { hint: flag === 'M' ? 'Multi-volume archives are not supported.' : undefined },
        );
      }
      const where = `${label}: ${quoted(path)} at offset ${headerOffset}`;
      // v7 marks directories as type '\0' with a trailing '/'; Go's archive/tar reads it the same way.
      const finalType = header.typeflag === '\0' && path.endsWith('/') ? 'directory' : type;
      const headerOnly = isHeaderOnly(header.typeflag) || finalType !== type;
      const storedSize = headerOnly ? 0 : (pax.size ?? header.size);
      const cursor: BodyCursor = { path, remaining: storedSize, padding: paddingFor(storedSize), finished: false, skipped: false };
      const stale = (): Error => new Error(`tar body of ${quoted(cursor.path)} read after moving to the next member`);
      current = cursor;
      previousPath = path;

      const readData = async (max: number): Promise<Buffer> => {
        if (cursor.finished) throw stale();
        const chunk = await input.readSome(Math.min(max, cursor.remaining));
        if (chunk.length === 0) {
          throw truncated(`in the body of ${quoted(cursor.path)} (${cursor.remaining} bytes missing)`);
        }
        cursor.remaining -= chunk.length;
        return chunk;
      };
      const readBlock = async (): Promise<Buffer> => {
        if (cursor.remaining < BLOCK_SIZE) throw new BadInputError(`${where}: GNU sparse map runs past the stored data`);
        const block = await input.readExact(BLOCK_SIZE);
        if (block.length < BLOCK_SIZE) throw truncated(`in the sparse map of ${quoted(path)}`);
        cursor.remaining -= BLOCK_SIZE;
        return block;
      };

      let sparse: SparseLayout | undefined;
      if (header.typeflag === 'S') {
        const { layout, extended } = oldGnuSparseHeader(header.block, where);
        // Extension blocks sit between header and data and are not counted in the size field.
        for (let more = extended; more; ) {
          const block = await input.readExact(BLOCK_SIZE);
          if (block.length < BLOCK_SIZE) throw truncated(`in the sparse map of ${quoted(path)}`);
          more = oldGnuSparseExtension(block, layout.segments, where);
        }
        sparse = layout;
      } else if (finalType === 'file' && pax.sparse.length > 0) {
        const info = paxSparseInfo(pax.sparse, where);
        if (info !== undefined) {
          if (info.name !== undefined) path = cursor.path = previousPath = info.name;
          if (info.version === '1.0') {
            info.segments = (await readSparse10Map(readBlock, where)).segments;
          }
          sparse = { realSize: info.realSize, segments: info.segments };
        }
      }
      if (sparse !== undefined) validateSparseLayout(sparse, cursor.remaining, where);

      const isDevice = finalType === 'chardev' || finalType === 'blockdev';
      const isLink = finalType === 'hardlink' || finalType === 'symlink';

      const entry: TarEntry = {
        path,
        type: finalType,
        mode: header.mode,
        uid: pax.uid ?? header.uid,
        gid: pax.gid ?? header.gid,
        mtime: pax.mtime ?? header.mtime,
        size: finalType === 'file' ? (sparse?.realSize ?? storedSize) : 0,
        linkname: isLink ? (pax.linkpath ?? longLink ?? header.linkname) : '',
        devmajor: isDevice ? header.devmajor : 0,
        devminor: isDevice ? header.devminor : 0,
        xattrs: pax.xattrs,
      };

      let body: AsyncIterable<Buffer>;
      if (finalType !== 'file') {
        body = emptyBody;
      } else if (sparse !== undefined) {
        const layout = sparse;
        body = singleUse(cursor, () => expandSparse(layout, readData));
      } else {
        body = singleUse(cursor, async function* () {
          for (;;) {
            if (cursor.skipped) throw stale();
            if (cursor.remaining === 0) return;
            yield await readData(cursor.remaining);
          }
        });
      }
      yield { entry, body };
    }
  } finally {
    await input.close();
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
