/**
 * Content-addressed store of verified blobs: `<root>/blobs/sha256/<hex>`.
 * A blob is streamed to a temp file beside its final place, hashed on the way,
 * and renamed only when the digest matches (toolchain/fs/atomic.ts), so
 * readers never see a torn or unverified blob and two writers of the same blob
 * both succeed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDigest, verifyStream } from '../digest/digest.ts';
import { writeStreamAtomic, writeStreamAtomicNamedAfter } from '../fs/atomic.ts';

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
    await writeStreamAtomic(final, verifyStream(source, { digest, size: opts.expectedSize, label: `blob ${opts.label ?? digest}` }));
    return final;
  }

  /** Store a stream whose digest is not known in advance (e.g. a `docker save` layer.tar). */
  async ingest(source: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<{ digest: string; size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    const counted = (async function* () {
      for await (const chunk of source) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    })();
    let digest = '';
    await writeStreamAtomicNamedAfter(join(this.root, 'blobs', 'sha256'), counted, () => {
      digest = `sha256:${hash.digest('hex')}`;
      return parseDigest(digest).hex;
    });
    return { digest, size };
  }

  read(digest: string): NodeJS.ReadableStream {
    return createReadStream(this.path(digest));
  }
}
