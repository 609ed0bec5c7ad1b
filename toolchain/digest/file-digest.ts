/**
 * The one file hasher: sha256 and size of a file on disk, streamed through
 * one reused buffer (no garbage per chunk: hashing a GiB-sized disk image
 * does not raise the build's peak memory).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

const READ_BUFFER = 1 << 20;

/** sha256 and size of a file, streamed. */
export async function fileDigest(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(READ_BUFFER);
    for (let n; (n = (await file.read(buffer, 0, READ_BUFFER, null)).bytesRead) > 0; size += n) hash.update(buffer.subarray(0, n));
  } finally {
    await file.close();
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}
