/**
 * The image config (OCI or Docker): platform, diff_ids and the runtime fields a VM uses.
 */
import { BadInputError } from '../errors/errors.ts';
import { Hints } from '../errors/hints.ts';
import { parseDigest } from '../digest/digest.ts';
import type { ImageRuntimeConfig } from '../bundle/manifest.ts';
import { checkEnv, checkExposedPorts, checkLabels, checkUser, checkVolumes, checkWorkingDir, optionalString, stringList } from './config-fields.ts';
import { isRecord, parseJsonObject } from './json-document.ts';
import type { Platform } from './platform.ts';

export interface ImageConfig {
  platform: Platform;
  runtime: ImageRuntimeConfig;
  /** Uncompressed layer digests, bottom first (rootfs.diff_ids). */
  diffIds: string[];
}

/** Parse an OCI / Docker image config; only fields a VM uses are kept. */
export function parseImageConfig(bytes: Buffer, where: string): ImageConfig {
  const doc = parseJsonObject(bytes, where);
  const rootfs = doc.rootfs;
  if (!isRecord(rootfs) || rootfs.type !== 'layers') throw new BadInputError(`${where}: rootfs.type must be "layers"`, { hint: Hints.document });
  // null is how Go writes an empty list (an image with no layers).
  const listed = rootfs.diff_ids ?? [];
  if (!Array.isArray(listed) || listed.some((d) => typeof d !== 'string')) throw new BadInputError(`${where}: rootfs.diff_ids must be an array of digests`, { hint: Hints.document });
  const diffIds = listed as string[];
  diffIds.forEach((d, i) => parseDigest(d, `${where} rootfs.diff_ids[${i}]`));
  if (doc.config !== undefined && doc.config !== null && !isRecord(doc.config)) throw new BadInputError(`${where}: config must be an object (the image's runtime fields)`, { hint: Hints.document });
  const c = isRecord(doc.config) ? doc.config : {};
  return { platform: platformOf(doc, where), runtime: runtimeOf(c, where), diffIds };
}

function platformOf(doc: Record<string, unknown>, where: string): Platform {
  for (const field of ['os', 'architecture', 'variant'] as const) {
    if (doc[field] !== undefined && typeof doc[field] !== 'string') throw new BadInputError(`${where}: ${field} must be a string`, { hint: Hints.document });
  }
  return {
    os: typeof doc.os === 'string' ? doc.os : 'linux',
    architecture: typeof doc.architecture === 'string' ? doc.architecture : 'amd64',
    variant: typeof doc.variant === 'string' ? doc.variant : undefined,
  };
}

/** The runtime fields a VM uses, each checked per the spec (config-fields.ts). */
function runtimeOf(c: Record<string, unknown>, where: string): ImageRuntimeConfig {
  return {
    entrypoint: stringList(c.Entrypoint, where, 'Entrypoint'),
    cmd: stringList(c.Cmd, where, 'Cmd'),
    env: checkEnv(stringList(c.Env, where, 'Env'), where),
    workingDir: checkWorkingDir(optionalString(c.WorkingDir, where, 'WorkingDir'), where),
    user: checkUser(optionalString(c.User, where, 'User'), where),
    exposedPorts: checkExposedPorts(c.ExposedPorts, where),
    volumes: checkVolumes(c.Volumes, where),
    labels: checkLabels(c.Labels, where),
    ...(typeof c.StopSignal === 'string' ? { stopSignal: c.StopSignal } : {}),
  };
}
