/**
 * A decoded layer on disk: its entries' metadata in archive order
 * (`index.json`) and its regular files' bytes, one after another, in one data
 * file (`data`), so a build keeps only metadata in memory and the writers read
 * contents back by offset. Written from the layer's tar members in one pass
 * (decodeLayerInto), read back as placed entries for the tree (readDecodedLayer).
 * Runs of zeros of 64 KiB or more become holes, so sparse-ish files cost no disk.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BadInputError } from '../errors/errors.ts';
import { displayPath } from '../paths/byte-string.ts';
import type { TarEntry, TarEntryType } from '../tar/entry.ts';
import type { TarMember } from '../tar/reader.ts';
import { checkEntry, type LayerLimits, type PlacedEntry } from '../tree/apply-layer.ts';

export const DATA_FILE = 'data';
export const INDEX_FILE = 'index.json';
/** Bumped whenever the index or data layout changes, so older cache entries are never misread. */
export const DECODED_LAYER_FORMAT = 1;

const HOLE = 64 * 1024;
const ZEROS = Buffer.alloc(HOLE);
const WRITE_BUFFER = 1 << 20;

/** One entry as stored: [path, type, mode, uid, gid, mtime, size, linkname, devmajor, devminor, dataOffset, xattrs?]. */
type StoredEntry = [string, TarEntryType, number, number, number, number, number, string, number, number, number, [string, string][]?];

/** Appends file bodies to the data file: small ones through a buffer, large ones with zero runs left as holes. */
class DataWriter {
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER);
  private used = 0;
  /** Bytes of the data file so far, buffered ones included. */
  size = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }

  write(chunk: Buffer): void {
    if (chunk.length < HOLE) {
      if (this.used + chunk.length > WRITE_BUFFER) this.flush();
      chunk.copy(this.buffer, this.used);
      this.used += chunk.length;
      this.size += chunk.length;
      return;
    }
    this.flush();
    for (let at = 0; at < chunk.length; at += HOLE) {
      const part = chunk.subarray(at, Math.min(chunk.length, at + HOLE));
      if (part.length < HOLE || !part.equals(ZEROS)) writeAll(this.fd, part, this.size);
      this.size += part.length;
    }
  }

  private flush(): void {
    if (this.used === 0) return;
    writeAll(this.fd, this.buffer.subarray(0, this.used), this.size - this.used);
    this.used = 0;
  }

  close(): void {
    try {
      this.flush();
      ftruncateSync(this.fd, this.size);
    } finally {
      closeSync(this.fd);
    }
  }
}

function writeAll(fd: number, data: Buffer, position: number): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, position + done);
}

function stored(entry: TarEntry, offset: number): StoredEntry {
  const e = entry;
  const out: StoredEntry = [e.path, e.type, e.mode, e.uid, e.gid, e.mtime, e.size, e.linkname, e.devmajor, e.devminor, offset];
  if (e.xattrs.size > 0) out.push([...e.xattrs].map(([name, value]) => [name, value.toString('base64')]));
  return out;
}

/**
 * Read every member of a layer, writing file bodies to `dir/data` and the
 * metadata to `dir/index.json`. Entries are checked as the merge will check
 * them (checkEntry), with this layer's bytes counted against `maxBytes`, so a
 * decompression bomb stops as soon as it passes the limit.
 */
export async function decodeLayerInto(members: AsyncIterable<TarMember>, dir: string, label: string, maxBytes: number): Promise<{ entries: number; dataBytes: number }> {
  const limits: LayerLimits = { maxBytes, bytesSoFar: 0 };
  const data = new DataWriter(join(dir, DATA_FILE));
  const index: StoredEntry[] = [];
  try {
    for await (const { entry, body } of members) {
      checkEntry(entry, label, limits);
      const offset = data.size;
      if (entry.type === 'file') {
        for await (const chunk of body) data.write(chunk);
        const got = data.size - offset;
        if (got !== entry.size) throw new BadInputError(`${label} entry '${displayPath(entry.path)}': body has ${got} bytes, header says ${entry.size}`);
      }
      index.push(stored(entry, offset));
    }
  } finally {
    data.close();
  }
  await writeFile(join(dir, INDEX_FILE), JSON.stringify({ format: DECODED_LAYER_FORMAT, entries: index }));
  return { entries: index.length, dataBytes: data.size };
}

/**
 * The entries of a decoded layer, each file pointing at its bytes in the
 * data file; `source` (the layer's diff_id) names those bytes across builds.
 */
export async function readDecodedLayer(dir: string, source?: string): Promise<PlacedEntry[]> {
  const parsed = JSON.parse(await readFile(join(dir, INDEX_FILE), 'utf8')) as { format: number; entries: StoredEntry[] };
  if (parsed.format !== DECODED_LAYER_FORMAT) throw new Error(`decoded layer ${dir} has format ${parsed.format}, not ${DECODED_LAYER_FORMAT}`);
  const path = join(dir, DATA_FILE);
  const noXattrs = new Map<string, Buffer>();
  return parsed.entries.map(([p, type, mode, uid, gid, mtime, size, linkname, devmajor, devminor, offset, xattrs]) => {
    const entry: TarEntry = {
      path: p, type, mode, uid, gid, mtime, size, linkname, devmajor, devminor,
      xattrs: xattrs ? new Map(xattrs.map(([name, value]) => [name, Buffer.from(value, 'base64')])) : noXattrs,
    };
    return type === 'file' ? { entry, spill: source === undefined ? { path, offset } : { path, offset, source } } : { entry };
  });
}
