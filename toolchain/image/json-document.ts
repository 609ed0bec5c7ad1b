/**
 * Parsing untrusted JSON documents (manifests, configs) with a size cap and shape checks.
 */
import { BadInputError } from '../errors/errors.ts';

/** Hostile manifests and configs are parsed with a cap so a huge answer cannot exhaust memory. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Parse untrusted JSON; `where` names the document in errors. */
export function parseJsonDocument(bytes: Buffer, where: string): unknown {
  if (bytes.length > MAX_MANIFEST_BYTES) throw new BadInputError(`${where} is ${bytes.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit for manifests`);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BadInputError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
}

/** As parseJsonDocument, for documents that must be a JSON object. */
export function parseJsonObject(bytes: Buffer, where: string): Record<string, unknown> {
  const doc = parseJsonDocument(bytes, where);
  if (!isRecord(doc)) throw new BadInputError(`${where} is not a JSON object`);
  return doc;
}

/** A JSON object (not null, not an array): the shape every field of untrusted JSON is checked against. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
