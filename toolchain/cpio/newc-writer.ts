/**
 * Streaming newc writer. It hands out Buffers in archive order and keeps only
 * per-hardlink-group bookkeeping, so an initramfs of any size is produced in
 * constant memory (plus one small record per hardlinked inode).
 *
 * Hardlinks. The kernel's unpacker (init/initramfs.c, maybe_link) links an
 * entry to an earlier one when nlink >= 2 and (devmajor, devminor, ino, file
 * type) match, and opens every later name WITHOUT O_TRUNC, writing body bytes
 * only if that entry's filesize says so. We put the data on the FIRST name
 * and give every later name filesize 0: that is the order a tar stream
 * delivers them in (the target carries the data, hardlink entries come
 * later), so nothing has to be buffered. GNU `cpio -o` does the opposite
 * (data on the LAST name, earlier names empty). It is often said that GNU's
 * order loses the data in the kernel; it does not in Linux 6.1 (booted in
 * tests/cpio-kernel-unpack.test.ts), nor per the source back to 2.6, since
 * the later name is not truncated. What does corrupt the result is a
 * mixed or inconsistent group: a later name with filesize > 0 writes the
 * shared inode a second time, and a repeated ino with nlink 1 becomes a
 * separate, empty file. So the writer enforces one order strictly. GNU
 * `cpio -i` reads our order correctly (it defers zero-size names to the
 * end), which tests/cpio-gnu-cross-check.test.ts checks.
 *
 * The kernel forgets all inodes at each TRAILER!!!, so a hardlink group must
 * not span concatenated archives.
 */
import { HyperbuildError } from '../errors/errors.ts';
import { displayPath, type ByteString } from '../paths/byte-string.ts';
import { paddingAfter } from './alignment.ts';
import { fileTypeOf, type FileType } from './file-mode.ts';
import { NEWC_HEADER_SIZE, NEWC_NAME_MAX, NEWC_TRAILER_NAME, encodeNewcHeaderInto, type CpioHeader } from './newc-header.ts';

/** GNU cpio pads the archive to its 512-byte block size; doing the same keeps us byte-identical to it (tested). */
export const NEWC_ARCHIVE_BLOCK = 512;
/** Linux symlink targets are at most PATH_MAX - 1 bytes; the unpacker would skip longer ones without a word. */
const SYMLINK_TARGET_MAX = 4095;

/** Types the kernel hard-links (maybe_link); dirs and symlinks are never linked. */
const LINKABLE: ReadonlySet<FileType> = new Set(['file', 'chardev', 'blockdev', 'fifo', 'socket']);

interface LinkGroup {
  nlink: number;
  seen: number;
  firstName: ByteString;
}

export interface NewcEntry {
  header: CpioHeader;
  /** Path inside the archive, without a leading "/" (the kernel takes names as-is). */
  name: ByteString;
  /** Body chunks totalling exactly header.filesize bytes; omit when filesize is 0. */
  body?: AsyncIterable<Buffer> | Iterable<Buffer>;
}

export class NewcWriter {
  #offset = 0;
  /** Body bytes the current entry still owes. */
  #owed = 0;
  /** The current entry's body has been written but not yet padded. */
  #inBody = false;
  #currentName: ByteString = '';
  #finished = false;
  readonly #groups = new Map<string, LinkGroup>();

  /** Bytes handed out so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Header + name + padding; then call body() for the data and endBody(). */
  entry(header: CpioHeader, name: ByteString): Buffer {
    this.#assertBetweenEntries();
    validateEntry(header, name);
    const out = this.#headerAndName(header, name);
    this.#trackHardlink(header, name);
    this.#offset += out.length;
    this.#currentName = name;
    this.#owed = header.filesize;
    this.#inBody = header.filesize > 0;
    return out;
  }

  /** Passes a body chunk through, counting it against the header's filesize. */
  body(chunk: Buffer): Buffer {
    if (!this.#inBody) {
      throw new HyperbuildError(`cpio writer: body bytes given for ${this.#describeCurrent()}, which has no body left`);
    }
    if (chunk.length > this.#owed) {
      throw new HyperbuildError(
        `cpio writer: ${this.#describeCurrent()} has more data than its header's filesize (the file changed while being archived?)`,
      );
    }
    this.#owed -= chunk.length;
    this.#offset += chunk.length;
    return chunk;
  }

  /**
   * Counts `n` body bytes the caller puts in the archive itself (an archive
   * assembled in separately compressed pieces), with body()'s checks.
   */
  skipBody(n: number): void {
    if (n === 0) return;
    if (!this.#inBody || n > this.#owed) {
      throw new HyperbuildError(`cpio writer: ${this.#describeCurrent()} has more data than its header's filesize`);
    }
    this.#owed -= n;
    this.#offset += n;
  }

  /** Padding after the body; fails if the body was shorter than announced. */
  endBody(): Buffer {
    if (this.#owed !== 0) {
      throw new HyperbuildError(
        `cpio writer: ${this.#describeCurrent()} ended ${this.#owed} bytes short of its header's filesize (the file changed while being archived?)`,
      );
    }
    this.#inBody = false;
    return this.#pad();
  }

  /**
   * The TRAILER!!! entry plus zeros up to a multiple of 512. Also checks that
   * every hardlink group got as many names as its nlink promised.
   */
  trailer(): Buffer {
    this.#assertBetweenEntries();
    for (const group of this.#groups.values()) {
      if (group.seen !== group.nlink) {
        throw new HyperbuildError(
          `cpio writer: "${displayPath(group.firstName)}" has nlink ${group.nlink} but ${group.seen} names were written`,
        );
      }
    }
    const header: CpioHeader = {
      ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: 0,
      devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0,
    };
    const entry = this.#headerAndName(header, NEWC_TRAILER_NAME);
    this.#offset += entry.length;
    const tail = Buffer.alloc(paddingAfter(this.#offset, NEWC_ARCHIVE_BLOCK));
    this.#offset += tail.length;
    this.#finished = true;
    return Buffer.concat([entry, tail]);
  }

  /** Does not advance the offset, so a rejected entry leaves the writer unchanged. */
  #headerAndName(header: CpioHeader, name: ByteString): Buffer {
    // A byte string is one latin1 character per byte: its length is the name's byte count.
    const namesize = name.length + 1;
    const end = this.#offset + NEWC_HEADER_SIZE + namesize;
    const out = Buffer.alloc(NEWC_HEADER_SIZE + namesize + paddingAfter(end));
    encodeNewcHeaderInto(out, 0, header, namesize, () => displayPath(name));
    out.write(name, NEWC_HEADER_SIZE, 'latin1');
    // The NUL terminator and padding are already zero from Buffer.alloc.
    return out;
  }

  #pad(): Buffer {
    const pad = Buffer.alloc(paddingAfter(this.#offset));
    this.#offset += pad.length;
    return pad;
  }

  #assertBetweenEntries(): void {
    if (this.#finished) throw new HyperbuildError('cpio writer: entry after TRAILER!!!');
    if (this.#inBody) {
      throw new HyperbuildError(`cpio writer: ${this.#describeCurrent()} was not finished with endBody()`);
    }
  }

  #trackHardlink(header: CpioHeader, name: ByteString): void {
    const type = fileTypeOf(header.mode)!;
    if (!LINKABLE.has(type) || header.nlink < 2) return;
    const key = `${header.devmajor}:${header.devminor}:${header.ino}`;
    const group = this.#groups.get(key);
    if (group === undefined) {
      this.#groups.set(key, { nlink: header.nlink, seen: 1, firstName: name });
      return;
    }
    const where = `"${displayPath(name)}" (hardlink of "${displayPath(group.firstName)}", ino ${header.ino})`;
    if (header.nlink !== group.nlink) {
      throw new HyperbuildError(`cpio writer: ${where} has nlink ${header.nlink}, the first name had ${group.nlink}`);
    }
    if (header.filesize !== 0) {
      throw new HyperbuildError(
        `cpio writer: ${where} has filesize ${header.filesize}; only the first name of a hardlink group may carry data`,
      );
    }
    group.seen += 1;
    if (group.seen > group.nlink) {
      throw new HyperbuildError(`cpio writer: ${where} is name ${group.seen} of an inode with nlink ${group.nlink}`);
    }
  }

  #describeCurrent(): string {
    return `"${displayPath(this.#currentName)}"`;
  }
}

/** Rejects entries the kernel would misread or silently skip. */
function validateEntry(header: CpioHeader, name: ByteString): void {
  if (name.length === 0) throw new HyperbuildError('cpio writer: empty file name');
  if (name.includes('\0')) throw new HyperbuildError(`cpio writer: file name "${displayPath(name)}" contains a NUL byte`);
  if (name.length + 1 > NEWC_NAME_MAX) {
    throw new HyperbuildError(
      `cpio writer: file name "${displayPath(name).slice(0, 80)}..." is ${name.length} bytes; the kernel accepts at most ${NEWC_NAME_MAX - 1}`,
    );
  }
  if (name === NEWC_TRAILER_NAME) {
    // The kernel would stop unpacking here and drop everything after it.
    throw new HyperbuildError(`cpio writer: a file may not be named "${NEWC_TRAILER_NAME}" at the archive root`);
  }
  const type = fileTypeOf(header.mode);
  if (type === undefined) {
    throw new HyperbuildError(`cpio writer: "${displayPath(name)}" has mode 0${header.mode.toString(8)} with no valid file type bits`);
  }
  if (type === 'symlink') {
    if (header.filesize === 0 || header.filesize > SYMLINK_TARGET_MAX) {
      throw new HyperbuildError(
        `cpio writer: symlink "${displayPath(name)}" has a ${header.filesize}-byte target; the kernel needs 1..${SYMLINK_TARGET_MAX}`,
      );
    }
  } else if (type !== 'file' && header.filesize !== 0) {
    throw new HyperbuildError(`cpio writer: ${type} "${displayPath(name)}" has filesize ${header.filesize}; only files and symlinks have data`);
  }
}

/** Whole archive, trailer included, as a stream of Buffers. */
export async function* writeNewc(
  entries: AsyncIterable<NewcEntry> | Iterable<NewcEntry>,
  writer: NewcWriter = new NewcWriter(),
): AsyncGenerator<Buffer> {
  for await (const { header, name, body } of entries) {
    yield writer.entry(header, name);
    if (body !== undefined) {
      for await (const chunk of body) {
        if (!Buffer.isBuffer(chunk)) throw new TypeError('cpio entry bodies must yield Buffers');
        if (chunk.length > 0) yield writer.body(chunk);
      }
    }
    const pad = writer.endBody();
    if (pad.length > 0) yield pad;
  }
  yield writer.trailer();
}
