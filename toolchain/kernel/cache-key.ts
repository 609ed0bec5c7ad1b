/**
 * The HyperKernel cache key: sha256 over exactly what decides the kernel's
 * bytes on a given host (the config fragment, the kernel source package
 * version and the compiler). kernel/build.sh computes the same key in shell;
 * the byte layout here must stay identical (a test compares the two).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../hyperstart/binary.ts';
import { runHostCommand } from './host-command.ts';

/** Debian package whose tarball HyperKernel is built from. */
export const HYPERKERNEL_SOURCE_PACKAGE = 'linux-source-6.1';

export interface HyperKernelKeyInputs {
  fragment: Buffer;
  /** `dpkg-query -W` version of the source package, e.g. `6.1.192-2`. */
  sourceVersion: string;
  /** First line of `gcc --version`. */
  gccVersion: string;
}

/** The repository's kernel/ directory (config fragment and build scripts). */
export function kernelSourceDir(): string {
  return join(packageRoot(), 'kernel');
}

export function hyperKernelKey(inputs: HyperKernelKeyInputs): string {
  return createHash('sha256')
    .update(inputs.fragment)
    .update(`${HYPERKERNEL_SOURCE_PACKAGE} ${inputs.sourceVersion}\n${inputs.gccVersion}\n`)
    .digest('hex');
}

export async function readHyperKernelKeyInputs(fragmentPath = join(kernelSourceDir(), 'hyperkernel.config')): Promise<HyperKernelKeyInputs> {
  const [fragment, sourceVersion, gcc] = await Promise.all([
    readFile(fragmentPath),
    runHostCommand({ command: 'dpkg-query', args: ['-W', '-f=${Version}', HYPERKERNEL_SOURCE_PACKAGE], debianPackage: HYPERKERNEL_SOURCE_PACKAGE }),
    runHostCommand({ command: 'gcc', args: ['--version'], debianPackage: 'gcc' }),
  ]);
  return { fragment, sourceVersion: sourceVersion.trim(), gccVersion: gcc.split('\n')[0] };
}
