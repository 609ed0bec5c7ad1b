/**
 * Blob upload (distribution spec "push"): skip what the registry has, mount
 * across repositories when we know one that holds the blob, else POST a
 * session and PUT it whole (small blobs) or PATCH it in chunks (big ones).
 */
import { createReadStream } from 'node:fs';
import { RegistryError } from '../errors/errors.ts';
import { pullScope, pushScope } from './auth.ts';
import type { RegistryClient } from './client.ts';
import { headBlob } from './blob-download.ts';
import { seconds, transferBudgetMs } from './deadlines.ts';
import { asRegistryError } from './registry-error.ts';
import { withRetry } from './retry.ts';
import type { RequestBody } from './transport.ts';

export type BlobSource = { path: string; size: number } | { bytes: Buffer };

export type UploadOutcome = 'exists' | 'mounted' | 'uploaded';

function sourceSize(source: BlobSource): number {
  return 'bytes' in source ? source.bytes.length : source.size;
}

function slice(source: BlobSource, start: number, end: number): RequestBody {
  if ('bytes' in source) return source.bytes.subarray(start, end);
  const { path } = source;
  return { length: end - start, open: () => createReadStream(path, { start, end: end - 1 }) };
}

function location(res: { headers: Record<string, string | string[] | undefined>; url: URL }, what: string): URL {
  const value = res.headers.location;
  if (typeof value !== 'string' || !value) throw new RegistryError(`${what}: the registry gave no upload location`, { hint: 'the registry does not follow the distribution API for uploads; report it to its operator' });
  return new URL(value, res.url);
}

export async function pushBlob(client: RegistryClient, repository: string, digest: string, source: BlobSource, opts: { mountFrom?: string; label?: string } = {}): Promise<UploadOutcome> {
  const label = opts.label ?? digest;
  if ((await headBlob(client, repository, digest)) !== undefined) return 'exists';
  const what = `uploading ${label} to ${client.registry}/${repository}`;
  const deadline = Date.now() + transferBudgetMs(client.deadlines, sourceSize(source));
  try {
    // Upload sessions are not safe to resume blindly: retry from a new session.
    return await withRetry(
      client.retryPolicy,
      () => uploadOnce(client, repository, digest, source, { mountFrom: opts.mountFrom, what, deadline }),
      (err, delay) => client.log(`${what}: ${(err as Error).message}; restarting in ${seconds(delay)}`),
      deadline,
    );
  } catch (err) {
    throw asRegistryError(err, what, client.registry);
  }
}

async function uploadOnce(client: RegistryClient, repository: string, digest: string, source: BlobSource, at: { mountFrom?: string; what: string; deadline: number }): Promise<UploadOutcome> {
  const { mountFrom, what, deadline } = at;
  const scopes = mountFrom ? [pushScope(repository), pullScope(mountFrom)] : [pushScope(repository)];
  const start = mountFrom
    ? `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}`
    : `/v2/${repository}/blobs/uploads/`;
  const opened = await client.send({ method: 'POST', path: start, scopes, what, retry: false, deadline });
  // 201: mounted, nothing to send. 202: a session (the mount was declined).
  if (mountFrom && opened.status === 201) {
    opened.body.resume();
    return 'mounted';
  }
  await client.expect(opened, [202], what);
  opened.body.resume();
  let url = location(opened, what);
  const size = sourceSize(source);
  if (size > client.chunkSize) {
    for (let offset = 0; offset < size; offset += client.chunkSize) {
      const end = Math.min(size, offset + client.chunkSize);
      const res = await client.send({
        method: 'PATCH',
        path: url,
        scopes,
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${end - 1}` },
        body: slice(source, offset, end),
        what,
        retry: false,
        deadline,
      });
      await client.expect(res, [202], what);
      res.body.resume();
      url = location(res, what);
    }
  }
  url = new URL(url);
  url.searchParams.set('digest', digest);
  const monolithic = size <= client.chunkSize;
  const done = await client.send({
    method: 'PUT',
    path: url,
    scopes,
    headers: monolithic ? { 'Content-Type': 'application/octet-stream' } : {},
    body: monolithic ? slice(source, 0, size) : undefined,
    what,
    retry: false,
        deadline,
  });
  await client.expect(done, [201], what);
  done.body.resume();
  return 'uploaded';
}
