import { BadInputError } from '../errors/errors.ts';
import { parseDigest } from '../digest/digest.ts';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** An OCI content descriptor, validated: digest well-formed, size a safe non-negative integer. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  artifactType?: string;
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/i.test(p))) {
    throw new BadInputError(`invalid platform '${text}': expected OS/ARCH[/VARIANT], e.g. linux/amd64`);
  }
  return { os: parts[0], architecture: parts[1], variant: parts[2] };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validate one descriptor from hostile JSON; `where` names it in errors. */
export function parseDescriptor(raw: unknown, where: string): Descriptor {
  if (!isRecord(raw)) throw new BadInputError(`${where}: descriptor is not an object`);
  const { mediaType, digest, size, platform, annotations, artifactType } = raw;
  if (typeof mediaType !== 'string') throw new BadInputError(`${where}: descriptor has no mediaType`);
  if (typeof digest !== 'string') throw new BadInputError(`${where}: descriptor has no digest`);
  parseDigest(digest, `digest in ${where}`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new BadInputError(`${where}: descriptor ${digest} has an invalid size`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (isRecord(platform)) {
    if (typeof platform.os !== 'string' || typeof platform.architecture !== 'string') {
      throw new BadInputError(`${where}: descriptor ${digest} has a malformed platform`);
    }
    d.platform = { os: platform.os, architecture: platform.architecture, variant: typeof platform.variant === 'string' ? platform.variant : undefined };
  }
  if (isRecord(annotations)) {
    d.annotations = Object.fromEntries(Object.entries(annotations).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  }
  if (typeof artifactType === 'string') d.artifactType = artifactType;
  return d;
}

export { isRecord };
