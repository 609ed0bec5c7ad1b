/**
 * The HyperKernel as bundles store it: the compact vmlinux (compact-vmlinux.ts,
 * 12.0 MB) gzip-compressed at level 9 (3.7 MB), bundle file `kernel.gz`
 * (bundle/bootable-kernel.ts unpacks it at boot). Made once per kernel cache
 * entry and kept beside the compact copy, never once per build. Its bytes
 * are fixed by the compact vmlinux, the level and zlib's code (compress/
 * gzip.ts: fixed header, pieces cut by offset), so the file name carries
 * Node's zlib version: another zlib makes another file, never a stale one,
 * and two builds with the same Node give the same bytes. The file is checked
 * against the compact copy (it must unpack to exactly its bytes) whenever
 * either file's identity changes, remembered in the FileFactMemo with the
 * compact copy's digest and size, which bundle.json records.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { FileFactMemo } from '../cache/file-fact-memo.ts';
import { GZIP_SEGMENT, gzipCompress, gzipDecompress } from '../compress/gzip.ts';
import { sha256Digest } from '../digest/digest.ts';
import { HyperbuildError } from '../errors/errors.ts';
import { writeStreamAtomic } from '../fs/atomic.ts';

export const VMLINUX_GZIP_LEVEL = 9;

/** `vmlinux.compact-1.gz9-zlib-1.3.1-e00f703` beside `vmlinux.compact-1`. */
export function gzipVmlinuxPath(compactPath: string, zlibVersion: string = process.versions.zlib ?? 'unknown'): string {
  return `${compactPath}.gz${VMLINUX_GZIP_LEVEL}-zlib-${zlibVersion.replace(/[^A-Za-z0-9.+-]/g, '_')}`;
}

export interface GzipVmlinux {
  path: string;
  /** What it unpacks to: the compact vmlinux's digest and size. */
  uncompressedDigest: string;
  uncompressedSize: number;
}

async function unpacks(path: string): Promise<Buffer | undefined> {
  try {
    const parts: Buffer[] = [];
    for await (const chunk of gzipDecompress(createReadStream(path), path)) parts.push(chunk);
    return Buffer.concat(parts);
  } catch {
    return undefined;
  }
}

/** The bytes as the compressor's input stream, in its piece size (the pieces deflate in parallel). */
async function* slices(bytes: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += GZIP_SEGMENT) yield bytes.subarray(at, at + GZIP_SEGMENT);
}

/** Make or check the gzip file; the compact vmlinux's digest and size once it unpacks to exactly that. */
async function ensureGzip(compactPath: string, target: string): Promise<Omit<GzipVmlinux, 'path'>> {
  const compact = await readFile(compactPath);
  const facts = { uncompressedDigest: sha256Digest(compact), uncompressedSize: compact.length };
  if ((await unpacks(target))?.equals(compact)) return facts;
  try {
    await writeStreamAtomic(target, gzipCompress(slices(compact), VMLINUX_GZIP_LEVEL));
  } catch (err) {
    throw new HyperbuildError(`cannot write the gzip-compressed HyperKernel ${target}: ${(err as Error).message}`, {
      hint: 'the kernel cache must be writable by whoever builds bundles (or rebuild it: hyperbuild kernel build)',
      cause: err,
    });
  }
  return facts;
}

/** The gzip-compressed copy of the compact vmlinux at `compactPath`, made if missing or not matching. */
export async function gzipVmlinux(compactPath: string, memo?: FileFactMemo): Promise<GzipVmlinux> {
  const target = gzipVmlinuxPath(compactPath);
  const facts = memo ? await memo.get(`gzip vmlinux ${target}`, [compactPath, target], () => ensureGzip(compactPath, target)) : await ensureGzip(compactPath, target);
  return { path: target, ...facts };
}
