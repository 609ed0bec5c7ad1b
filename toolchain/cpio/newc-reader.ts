/**
 * Streaming newc reader, the inverse of newc-writer.ts: `export` reads a
 * bundle's /.hyperstart/spec back from its initramfs with it
 * (toolchain/export/spec-segment.ts), and the cpio tests read our archives
 * and GNU cpio's. Input may be hostile (an initramfs from a bundle that
 * anyone may have handed over), so every length is checked before it
 * is trusted and any malformation is a BadInputError naming the label and the
 * archive offset. Bodies are handed out as slices of the input chunks, never
 * collected whole.
 *
 * Like the kernel, it accepts several archives concatenated, with zero
 * padding between them (an initramfs is often "early microcode" + "main").
 */
import { BadInputError } from '../errors/errors.ts';
import { bytesToByteString, displayPath, type ByteString } from '../paths/byte-string.ts';
import { ChunkReader } from '../tar/chunk-reader.ts';
import { paddingAfter } from './alignment.ts';
import { NEWC_HEADER_SIZE, NEWC_NAME_MAX, NEWC_TRAILER_NAME, decodeNewcHeader, type DecodedNewcHeader } from './newc-header.ts';

export interface NewcReadEntry {
  header: DecodedNewcHeader;
  name: ByteString;
  /** Archive offset of the header. */
  offset: number;
  /**
   * The body, exactly header.filesize bytes. Consume it before asking for the
   * next entry; whatever is left unread is skipped.
   */
  body: AsyncIterable<Buffer>;
}

/** Entries of every archive in the stream; TRAILER!!! entries are not yielded. */
export async function* readNewc(input: AsyncIterable<Buffer>, label: string): AsyncGenerator<NewcReadEntry> {
  const reader = new ChunkReader(input);
  try {
    let sawTrailer = false;
    for (;;) {
      let offset = reader.offset;
      let headerBytes: Buffer;
      if (sawTrailer) {
        const word = await skipZeroWords(reader, label);
        if (word === undefined) return;
        offset = reader.offset - word.length;
        headerBytes = Buffer.concat([word, await reader.readExact(NEWC_HEADER_SIZE - word.length)]);
      } else {
        headerBytes = await reader.readExact(NEWC_HEADER_SIZE);
      }
      if (headerBytes.length === 0) {
        throw new BadInputError(`${label}: cpio archive ends at offset ${offset} without a TRAILER!!! entry (truncated?)`);
      }
      const header = decodeNewcHeader(headerBytes, offset, label);
      const name = await readName(reader, header.namesize, offset, label);
      if (name === NEWC_TRAILER_NAME) {
        await skipExact(reader, header.filesize + paddingAfter(reader.offset + header.filesize), label, 'trailer');
        sawTrailer = true;
        continue;
      }
      sawTrailer = false;
      let remaining = header.filesize;
      const shown = displayPath(name);
      const body = async function* (): AsyncGenerator<Buffer> {
        while (remaining > 0) {
          const chunk = await reader.readSome(remaining);
          if (chunk.length === 0) {
            throw new BadInputError(`${label}: cpio archive truncated inside the data of "${shown}"`);
          }
          remaining -= chunk.length;
          yield chunk;
        }
      };
      yield { header, name, offset, body: body() };
      // Skip what the consumer left unread, then the padding after the body.
      await skipExact(reader, remaining, label, `data of "${shown}"`);
      remaining = 0;
      await skipExact(reader, paddingAfter(reader.offset), label, `padding after "${shown}"`);
    }
  } finally {
    await reader.close();
  }
}

async function readName(reader: ChunkReader, namesize: number, offset: number, label: string): Promise<ByteString> {
  if (namesize < 2 || namesize > NEWC_NAME_MAX) {
    throw new BadInputError(`${label}: cpio header at offset ${offset} has name size ${namesize} (allowed 2..${NEWC_NAME_MAX})`);
  }
  const padded = namesize + paddingAfter(reader.offset + namesize);
  const bytes = await reader.readExact(padded);
  if (bytes.length < padded) {
    throw new BadInputError(`${label}: cpio archive truncated inside the name of the entry at offset ${offset}`);
  }
  const nul = bytes.indexOf(0);
  if (nul !== namesize - 1) {
    throw new BadInputError(`${label}: the name of the cpio entry at offset ${offset} is not a NUL-terminated string of ${namesize - 1} bytes`);
  }
  return bytesToByteString(bytes.subarray(0, nul));
}

async function skipExact(reader: ChunkReader, n: number, label: string, what: string): Promise<void> {
  if ((await reader.skip(n)) < n) {
    throw new BadInputError(`${label}: cpio archive truncated inside the ${what}`);
  }
}

/**
 * After a trailer: skips zero padding in 4-byte words, as the kernel does.
 * Returns the first non-zero word (the start of the next archive), or
 * undefined at a clean end.
 */
async function skipZeroWords(reader: ChunkReader, label: string): Promise<Buffer | undefined> {
  for (;;) {
    const word = await reader.readExact(4);
    if (word.length === 0) return undefined;
    if (word.some((byte) => byte !== 0)) return word;
    if (word.length < 4) {
      throw new BadInputError(`${label}: cpio archive ends with padding that is not a multiple of 4 bytes`);
    }
  }
}
