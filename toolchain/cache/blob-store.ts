import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseDigest, verifyStream } from '../digest/digest.ts';

/**
 * Content-addressed store of verified blobs: `<root>/blobs/sha256/<hex>`.
 * A blob is streamed to a temp file beside its final place, hashed on the way,
 * and renamed only when the digest matches, so readers never see a torn or
 * unverified blob and two writers of the same blob both succeed.
 */
export class BlobStore {
  constructor(readonly root: string) {}

  path(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, 'blobs', algorithm, hex);
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.path(digest))).isFile();
    } catch {
      return false;
    }
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.path(digest))).size;
  }

  /**
   * Store `source`, refusing it unless it hashes to `digest` (and has
   * `expectedSize` bytes, when given). `label` names the blob in errors.
   */
  async put(digest: string, source: AsyncIterable<Buffer>, opts: { expectedSize?: number; label?: string } = {}): Promise<string> {
    const final = this.path(digest);
    const { algorithm } = parseDigest(digest);
    await mkdir(join(this.root, 'blobs', algorithm), { recursive: true });
    const tmp = `${final}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await pipeline(verifyStream(source, { digest, size: opts.expectedSize, label: `blob ${opts.label ?? digest}` }), createWriteStream(tmp));
      await rename(tmp, final);
      return final;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Store a stream whose digest is not known in advance (e.g. a `docker save` layer.tar). */
  async ingest(source: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<{ digest: string; size: number }> {
    await mkdir(join(this.root, 'blobs', 'sha256'), { recursive: true });
    const tmp = join(this.root, 'blobs', 'sha256', `ingest.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(async function* () {
        for await (const chunk of source) {
          hash.update(chunk);
          size += chunk.length;
          yield chunk;
        }
      }, createWriteStream(tmp));
      const digest = `sha256:${hash.digest('hex')}`;
      await rename(tmp, this.path(digest));
      return { digest, size };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  read(digest: string): NodeJS.ReadableStream {
    return createReadStream(this.path(digest));
  }
}
