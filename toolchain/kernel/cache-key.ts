/**
 * The HyperKernel cache key: sha256 over exactly what decides the kernel's
 * bytes on a given host (the config fragment, the kernel source package
 * version and the compiler). kernel/build.sh computes the same key in shell;
 * the byte layout here must stay identical (a test compares the two).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFactMemo, programPath } from '../cache/file-fact-memo.ts';
import type { HostCommand } from './host-command.ts';
import { packageRoot } from '../hyperstart/binary.ts';

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

/**
 * The key's inputs. With a memo, the two tool answers are remembered while
 * dpkg's database and the gcc binary are unchanged: spawning dpkg-query and
 * gcc was most of a no-op build's time.
 */
export async function readHyperKernelKeyInputs(fragmentPath = join(kernelSourceDir(), 'hyperkernel.config'), memo?: FileFactMemo): Promise<HyperKernelKeyInputs> {
  const dpkgStatus = join(process.env.DPKG_ADMINDIR || '/var/lib/dpkg', 'status');
  const remembered = async (name: string, files: string[], run: () => Promise<string>) => (memo ? memo.get(name, files, run) : run());
  // Loaded when a tool really runs: a remembered answer needs no child_process.
  const runHostCommand = async (cmd: HostCommand) => (await import('./host-command.ts')).runHostCommand(cmd);
  const [fragment, sourceVersion, gcc] = await Promise.all([
    readFile(fragmentPath),
    remembered(`dpkg-query version ${HYPERKERNEL_SOURCE_PACKAGE}`, [dpkgStatus, await programPath('dpkg-query')], () =>
      runHostCommand({ command: 'dpkg-query', args: ['-W', '-f=${Version}', HYPERKERNEL_SOURCE_PACKAGE], debianPackage: HYPERKERNEL_SOURCE_PACKAGE }),
    ),
    remembered('gcc --version', [await programPath('gcc')], () => runHostCommand({ command: 'gcc', args: ['--version'], debianPackage: 'gcc' })),
  ]);
  return { fragment, sourceVersion: sourceVersion.trim(), gccVersion: gcc.split('\n')[0] };
}
