/**
 * Blob GET and HEAD. Downloads stream through BlobStore.put, which hashes
 * them and renames into place only on a match: wrong bytes never reach the
 * cache, and two pulls of one layer both succeed and store it once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlobStore } from '../cache/blob-store.ts';
import { BadInputError } from '../errors/errors.ts';
import { pullScope } from './auth.ts';
import type { RegistryClient } from './client.ts';
import { seconds, transferBudgetMs } from './deadlines.ts';
import { asRegistryError } from './registry-error.ts';
import { backoffDelay, isRetryableError, withRetry } from './retry.ts';
import type { HttpResponse } from './transport.ts';

export interface BlobRef {
  digest: string;
  size: number;
}

/** Size of the blob in `repository`, or undefined when the registry does not have it there. */
export async function headBlob(client: RegistryClient, repository: string, digest: string): Promise<number | undefined> {
  const what = `checking blob ${digest} in ${client.registry}/${repository}`;
  const res = await client.send({ method: 'HEAD', path: `/v2/${repository}/blobs/${digest}`, scopes: [pullScope(repository)], what });
  res.body.resume();
  if (res.status === 404) return undefined;
  await client.expect(res, [200], what);
  const length = Number(res.headers['content-length']);
  return Number.isFinite(length) ? length : -1;
}

/** Download into the store (unless already there); returns the verified file's path. */
export async function downloadBlob(client: RegistryClient, store: BlobStore, repository: string, blob: BlobRef, label = blob.digest): Promise<string> {
  if (await store.has(blob.digest)) {
    // A wrong size means a different blob store layout or corruption: refetch.
    if ((await store.size(blob.digest)) === blob.size) return store.path(blob.digest);
  }
  const what = `downloading ${label} from ${client.registry}/${repository}`;
  // One budget for the whole blob, resumes and restarts included: --registry-timeout plus its size at the slowest useful rate.
  const deadline = Date.now() + transferBudgetMs(client.deadlines, blob.size);
  try {
    // The whole download restarts when it cannot resume; put() discards partial files.
    return await withRetry(
      client.retryPolicy,
      () => store.put(blob.digest, resumableBody(client, repository, blob, what, deadline), { expectedSize: blob.size, label }),
      (err, delay) => client.log(`${what}: ${(err as Error).message}; starting over in ${seconds(delay)}`),
      deadline,
    );
  } catch (err) {
    if (err instanceof BadInputError) throw err.withHint(WRONG_BYTES_HINT);
    throw asRegistryError(err, what, client.registry);
  }
}

const WRONG_BYTES_HINT = 'the registry (or a proxy in between) sent other bytes than the digest names; nothing was kept: try again, and if it persists the registry\'s storage is damaged';

async function getBlob(client: RegistryClient, repository: string, digest: string, what: string, offset: number, deadline: number): Promise<HttpResponse> {
  return client.send({
    deadline,
    method: 'GET',
    path: `/v2/${repository}/blobs/${digest}`,
    scopes: [pullScope(repository)],
    headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
    what,
  });
}

/**
 * The blob's bytes, resuming with a Range request when the connection drops
 * and the server said it accepts ranges. Bytes already yielded stay hashed,
 * so only a 206 from exactly where we stopped may continue the stream.
 */
async function* resumableBody(client: RegistryClient, repository: string, blob: BlobRef, what: string, deadline: number): AsyncGenerator<Buffer> {
  let res = await client.expect(await getBlob(client, repository, blob.digest, what, 0, deadline), [200], what);
  let received = 0;
  let resumes = 0;
  try {
    for (;;) {
      try {
        for await (const chunk of res.body as AsyncIterable<Buffer>) {
          received += chunk.length;
          yield chunk;
        }
        return;
      } catch (err) {
        const rangeable = res.headers['accept-ranges'] === 'bytes' || res.status === 206;
        const delay = backoffDelay(client.retryPolicy, resumes);
        const hopeless = received >= blob.size || resumes + 1 >= client.retryPolicy.attempts || Date.now() + delay >= deadline;
        if (!isRetryableError(err) || !rangeable || hopeless) throw err;
        resumes++;
        res.body.destroy();
        client.log(`${what}: ${(err as Error).message} after ${received} of ${blob.size} bytes; resuming in ${seconds(delay)}`);
        await sleep(delay);
        const next = await getBlob(client, repository, blob.digest, what, received, deadline);
        const range = next.headers['content-range'];
        if (next.status !== 206 || typeof range !== 'string' || !range.startsWith(`bytes ${received}-`)) {
          next.body.destroy();
          throw err;
        }
        res = next;
      }
    }
  } finally {
    res.body.destroy();
  }
}
