/**
 * OCI content descriptors (media type, digest, size), validated from untrusted JSON.
 */
import { BadInputError } from '../errors/errors.ts';
import { parseDigest } from '../digest/digest.ts';
import { isRecord } from './json-document.ts';
import type { Platform } from './platform.ts';

/**
 * An OCI content descriptor, validated: digest well-formed, size a safe
 * non-negative integer. Fields we do not check (urls, data, future ones) are
 * kept as they came, so a manifest we re-serialise or show loses nothing.
 */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform & { 'os.version'?: string; features?: string[] };
  artifactType?: string;
  urls?: string[];
}

/** Validate one descriptor from hostile JSON; `label` names it in errors. */
export function parseDescriptor(v: unknown, label: string): Descriptor {
  if (!isRecord(v)) throw new BadInputError(`${label} is not a descriptor object`);
  if (typeof v.mediaType !== 'string' || v.mediaType.length === 0) throw new BadInputError(`${label} has no mediaType`);
  if (typeof v.digest !== 'string') throw new BadInputError(`${label} has no digest`);
  parseDigest(v.digest, `digest of ${label}`);
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw new BadInputError(`${label} (${v.digest}) has an invalid size`);
  if (v.annotations !== undefined && !isRecord(v.annotations)) throw new BadInputError(`${label} has invalid annotations`);
  const p = v.platform;
  if (p !== undefined && (!isRecord(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string' || (p.variant !== undefined && typeof p.variant !== 'string'))) {
    throw new BadInputError(`${label} has an invalid platform`);
  }
  return { ...v } as unknown as Descriptor;
}
