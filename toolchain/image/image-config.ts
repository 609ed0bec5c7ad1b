/**
 * The image config (OCI or Docker): platform, diff_ids and the runtime fields a VM uses.
 */
import { BadInputError } from '../errors/errors.ts';
import { parseDigest } from '../digest/digest.ts';
import type { ImageRuntimeConfig } from '../bundle/manifest.ts';
import { isRecord, parseJsonObject } from './json-document.ts';
import type { Platform } from './platform.ts';

export interface ImageConfig {
  platform: Platform;
  runtime: ImageRuntimeConfig;
  /** Uncompressed layer digests, bottom first (rootfs.diff_ids). */
  diffIds: string[];
}

function strings(v: unknown, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new BadInputError(`${where} must be an array of strings`);
  return v as string[];
}

function keys(v: unknown): string[] {
  return isRecord(v) ? Object.keys(v).sort() : [];
}

/** Parse an OCI / Docker image config; only fields a VM uses are kept. */
export function parseImageConfig(bytes: Buffer, where: string): ImageConfig {
  const doc = parseJsonObject(bytes, where);
  const rootfs = doc.rootfs;
  if (!isRecord(rootfs) || rootfs.type !== 'layers') throw new BadInputError(`${where}: rootfs.type must be "layers"`);
  const diffIds = strings(rootfs.diff_ids, `${where} rootfs.diff_ids`);
  diffIds.forEach((d, i) => parseDigest(d, `${where} rootfs.diff_ids[${i}]`));
  const c = isRecord(doc.config) ? doc.config : {};
  const labels = isRecord(c.Labels) ? Object.fromEntries(Object.entries(c.Labels).filter(([, v]) => typeof v === 'string')) : {};
  const str = (v: unknown, field: string) => {
    if (v === undefined || v === null) return '';
    if (typeof v !== 'string') throw new BadInputError(`${where} config.${field} must be a string`);
    return v;
  };
  return {
    platform: {
      os: typeof doc.os === 'string' ? doc.os : 'linux',
      architecture: typeof doc.architecture === 'string' ? doc.architecture : 'amd64',
      variant: typeof doc.variant === 'string' ? doc.variant : undefined,
    },
    runtime: {
      entrypoint: strings(c.Entrypoint, `${where} config.Entrypoint`),
      cmd: strings(c.Cmd, `${where} config.Cmd`),
      env: strings(c.Env, `${where} config.Env`),
      workingDir: str(c.WorkingDir, 'WorkingDir'),
      user: str(c.User, 'User'),
      exposedPorts: keys(c.ExposedPorts),
      volumes: keys(c.Volumes),
      labels: labels as Record<string, string>,
      ...(typeof c.StopSignal === 'string' ? { stopSignal: c.StopSignal } : {}),
    },
    diffIds,
  };
}
