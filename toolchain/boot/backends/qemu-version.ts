/**
 * Which QEMU runs, and its version: the binary (HYPERBUILD_QEMU overrides
 * `qemu-system-x86_64`), proved runnable by `--version`, whose first line
 * goes into the VM template key. The probe costs a process spawn (~30 ms), so
 * its answer is remembered by the binary's stat identity (cache/file-fact-memo.ts):
 * an upgraded or replaced QEMU is probed again.
 */
import { spawnSync } from 'node:child_process';
import { ExitCode, HyperbuildError } from '../../errors/errors.ts';
import { FileFactMemo, programPath } from '../../cache/file-fact-memo.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';
export const QEMU_INSTALL_HINT = 'apt-get install qemu-system-x86';

export interface QemuIdentity {
  binary: string;
  /** First line of `--version`, e.g. `QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)`. */
  version: string;
}

function probe(binary: string): string {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) {
    throw new HyperbuildError(`${binary} not found or not runnable`, { hint: QEMU_INSTALL_HINT, exitCode: ExitCode.vmFailure });
  }
  return r.stdout.split('\n')[0].trim();
}

/** The QEMU to run and its version; remembered under `cacheDir` when given. Fails with the install hint. */
export async function qemuVersion(env: NodeJS.ProcessEnv = process.env, cacheDir?: string): Promise<QemuIdentity> {
  const binary = env.HYPERBUILD_QEMU || QEMU_BINARY;
  if (!cacheDir) return { binary, version: probe(binary) };
  const path = await programPath(binary, env);
  // An absent binary has no identity worth remembering: probe (and fail) every time.
  if (!path.includes('/')) return { binary, version: probe(binary) };
  const version = await new FileFactMemo(cacheDir).get(`qemu --version ${path}`, [path], async () => probe(binary));
  return { binary, version };
}
