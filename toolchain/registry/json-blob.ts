/**
 * Small JSON blobs (image configs, bundle.json): fetched through the verified
 * store like any blob, size-capped before download, and parsed as objects.
 */
import { readFile } from 'node:fs/promises';
import type { BlobStore } from '../cache/blob-store.ts';
import { BadInputError } from '../errors/errors.ts';
import type { Descriptor } from '../image/descriptor.ts';
import type { RegistryClient } from './client.ts';
import { downloadBlob } from './blob-download.ts';

export const MAX_JSON_BLOB_BYTES = 8 * 1024 * 1024;

export async function fetchJsonBlob(client: RegistryClient, store: BlobStore, repository: string, desc: Descriptor, label: string): Promise<{ bytes: Buffer; json: Record<string, unknown> }> {
  if (desc.size > MAX_JSON_BLOB_BYTES) throw new BadInputError(`${label} is ${desc.size} bytes, more than the ${MAX_JSON_BLOB_BYTES}-byte limit for JSON`);
  const path = await downloadBlob(client, store, repository, desc, label);
  const bytes = await readFile(path);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BadInputError(`${label} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BadInputError(`${label} is not a JSON object`);
  return { bytes, json: json as Record<string, unknown> };
}
