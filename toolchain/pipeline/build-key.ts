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

/**
 * The revision of what the pipeline writes for given inputs. Bump it with any
 * change to the bytes or the bundle.json the same inputs give (initramfs piece
 * layout, inode numbering, the bundle's cmdline, ...): the key then changes, so
 * neither a cached initramfs nor an existing bundle of the old output is reused.
 * 2: initramfs in cacheable pieces, path-derived inode numbers, initramfs_async=0.
 * 3: the HyperKernel stored gzip-compressed (kernel.gz, kernel.compression).
 */
export const OUTPUT_REVISION = 3;

export function buildKey(inputs: BuildInputs): string {
  const all = { ...inputs, outputRevision: OUTPUT_REVISION };
  const canonical = JSON.stringify(Object.entries(all).sort(([a], [b]) => (a < b ? -1 : 1)));
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}
