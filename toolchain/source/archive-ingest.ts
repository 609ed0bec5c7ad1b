/**
 * Reading an image archive file (`docker save`, oci-archive) once: its members
 * go into the content-addressed cache, its small JSON members are kept by
 * name, and a stat-keyed index lets a rebuild from the unchanged file skip it.
 */
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { BlobStore } from '../cache/blob-store.ts';
import { BadInputError } from '../errors/errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { readTar } from '../tar/reader.ts';
import { displayPath } from '../paths/byte-string.ts';
import { SNIFF_BYTES, sniffCompression } from '../compress/detect.ts';

const DECOMPRESS_TOOL: Record<string, string> = { gzip: 'gunzip', zstd: 'unzstd', xz: 'unxz', bzip2: 'bunzip2', 'lz4-frame': 'unlz4', lz4: 'unlz4', lzma: 'unlzma', lzop: 'lzop -d' };

/** Archives are read as plain tar: a compressed one is named as such, with the command that unpacks it. */
async function refuseCompressed(file: string): Promise<void> {
  const handle = await open(file, 'r');
  const head = Buffer.alloc(SNIFF_BYTES);
  try {
    await handle.read(head, 0, SNIFF_BYTES, 0);
  } finally {
    await handle.close();
  }
  const kind = sniffCompression(head);
  if (kind === 'none') return;
  throw new BadInputError(`archive ${file} is ${kind}-compressed; image archives are read as plain tar`, {
    hint: `decompress it first (${DECOMPRESS_TOOL[kind] ?? 'decompress'} ${file}) and build from the .tar; docker save and skopeo copy write plain tar`,
  });
}

/** JSON members we keep in memory while ingesting; anything bigger is a blob. */
const SMALL_MEMBER_LIMIT = 4 * 1024 * 1024;
const INDEX_VERSION = 1;

/**
 * What an image archive (`docker save`, oci-archive) holds once ingested: its
 * small JSON members by name, and every other member as a verified blob in the
 * store, by name → digest. Blobs are streamed straight into the content store,
 * never unpacked to a directory tree.
 */
export interface ArchiveContents {
  json: Map<string, Buffer>;
  blobs: Map<string, string>;
}

function memberName(path: string): string {
  return displayPath(path).replace(/^(\.\/)+/, '');
}

async function ingestArchive(file: string, store: BlobStore): Promise<ArchiveContents> {
  const contents: ArchiveContents = { json: new Map(), blobs: new Map() };
  const label = `archive ${file}`;
  for await (const { entry, body } of readTar(createReadStream(file) as AsyncIterable<Buffer>, label, { requireEnd: true })) {
    if (entry.type !== 'file') continue;
    const name = memberName(entry.path);
    if (name.endsWith('.json') || name === 'oci-layout' || name === 'repositories') {
      if (entry.size > SMALL_MEMBER_LIMIT) throw new BadInputError(`${label}: member ${name} is ${entry.size} bytes, too large for metadata`);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c);
      contents.json.set(name, Buffer.concat(chunks));
    }
    // Docker names config blobs `<hex>.json`: JSON members are stored as blobs too.
    const { digest } = await store.ingest(contents.json.has(name) ? [contents.json.get(name)!] : body);
    contents.blobs.set(name, digest);
  }
  return contents;
}

/**
 * Ingest once per archive file version: a stat-keyed index in the cache makes
 * a rebuild from an unchanged archive skip re-reading it (the same trade-off make makes).
 */
export async function openArchive(file: string, cacheDir: string): Promise<{ contents: ArchiveContents; store: BlobStore; key: string }> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    throw new BadInputError(`cannot read archive ${file} (${(err as NodeJS.ErrnoException).code ?? err})`, { hint: 'check the path after docker-archive: or oci-archive:' });
  }
  if (!st.isFile()) throw new BadInputError(`${file} is not a file`, { hint: 'docker-archive: and oci-archive: take a .tar file (a directory is oci:DIR)' });
  await refuseCompressed(file);
  const store = new BlobStore(cacheDir);
  const key = createHash('sha256').update(JSON.stringify([INDEX_VERSION, st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs])).digest('hex');
  const indexPath = join(cacheDir, 'archives', `${key}.json`);
  try {
    const saved = JSON.parse(await readFile(indexPath, 'utf8')) as { json: [string, string][]; blobs: [string, string][] };
    const contents: ArchiveContents = {
      json: new Map(saved.json.map(([k, v]) => [k, Buffer.from(v, 'base64')])),
      blobs: new Map(saved.blobs),
    };
    const present = await Promise.all([...contents.blobs.values()].map((d) => store.has(d)));
    if (present.every(Boolean)) return { contents, store, key };
  } catch {
    // No usable index: ingest below.
  }
  const contents = await ingestArchive(file, store);
  await writeFileAtomic(indexPath, JSON.stringify({ json: [...contents.json].map(([k, v]) => [k, v.toString('base64')]), blobs: [...contents.blobs] }));
  return { contents, store, key };
}
