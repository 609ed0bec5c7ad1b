/**
 * Content digests (`sha256:<hex>`): parsing hostile digest strings, hashing
 * bytes, and verifying a stream against a digest and size as it passes.
 */
import { createHash } from 'node:crypto';
import { BadInputError } from '../errors/errors.ts';

const DIGEST_RE = /^(sha256):([a-f0-9]{64})$|^(sha512):([a-f0-9]{128})$/;

export interface ParsedDigest {
  algorithm: 'sha256' | 'sha512';
  hex: string;
}

/** Parse `sha256:<64 hex>` (or sha512); anything else is hostile input. */
export function parseDigest(digest: string, what = 'digest'): ParsedDigest {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new BadInputError(`invalid ${what} '${digest.slice(0, 100)}': expected sha256:<64 hex digits>`);
  return m[1] ? { algorithm: 'sha256', hex: m[2] } : { algorithm: 'sha512', hex: m[4] };
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * Pass a stream through unchanged while hashing it; throws at the end (before
 * the consumer sees completion) when the digest or size does not match.
 */
export async function* verifyStream(
  source: AsyncIterable<Buffer>,
  expected: { digest: string; size?: number; label: string },
): AsyncGenerator<Buffer> {
  const { algorithm } = parseDigest(expected.digest, `digest of ${expected.label}`);
  const hash = createHash(algorithm);
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (expected.size !== undefined && size > expected.size) {
      throw new BadInputError(`${expected.label} is larger than the ${expected.size} bytes its descriptor says`);
    }
    hash.update(chunk);
    yield chunk;
  }
  if (expected.size !== undefined && size !== expected.size) {
    throw new BadInputError(`${expected.label} is truncated: ${size} of ${expected.size} bytes`);
  }
  const actual = `${algorithm}:${hash.digest('hex')}`;
  if (actual !== expected.digest) {
    throw new BadInputError(`${expected.label} does not match its digest: expected ${expected.digest}, got ${actual}`);
  }
}
