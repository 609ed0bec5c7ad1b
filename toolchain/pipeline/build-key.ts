/**
 * The build key: one digest over every input that determines a bundle's bytes.
 */
import { createHash } from 'node:crypto';

/**
 * Everything that determines the bytes of a bundle. Equal keys mean an
 * identical bundle, so a rebuild with an equal key is a no-op.
 */
export interface BuildInputs {
  hyperbuildVersion: string;
  imageContentKey: string;
  platform: string;
  kernelDigest: string;
  hyperstartDigest: string;
  compression: string;
  sourceDateEpoch?: number;
  maxRootfsSize: number;
  rootfs: string;
  diskTools: string;
}

export function buildKey(inputs: BuildInputs): string {
  const canonical = JSON.stringify(Object.entries(inputs).sort(([a], [b]) => (a < b ? -1 : 1)));
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}
