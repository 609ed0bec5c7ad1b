/**
 * The versions of the disk tools (mke2fs, mkfs.erofs), an input of disk-rootfs builds.
 */
import { promisify } from 'node:util';
import { programPath, type FileFactMemo } from '../cache/file-fact-memo.ts';

/** child_process loads when a version is really asked for, not on a no-op build. */
const run = async (cmd: string, args: string[]) => promisify((await import('node:child_process')).execFile)(cmd, args);

/**
 * `mke2fs 1.47.0 …` / `mkfs.erofs 1.5` lines: part of the build key of
 * disk-rootfs bundles. With a memo, each line is remembered while its
 * program's binary is unchanged (a no-op build then spawns nothing).
 */
export async function diskToolVersions(memo?: FileFactMemo): Promise<string> {
  const version = async (cmd: string, args: string[]) => {
    try {
      const { stdout, stderr } = await run(cmd, args);
      return `${stdout}${stderr}`.split('\n')[0].trim();
    } catch (err) {
      return `${cmd}: ${(err as NodeJS.ErrnoException).code ?? 'unavailable'}`;
    }
  };
  const remembered = async (cmd: string, args: string[]) => {
    if (!memo) return version(cmd, args);
    return memo.get(`${cmd} ${args.join(' ')}`, [await programPath(cmd)], () => version(cmd, args));
  };
  return (await Promise.all([remembered('mkfs.ext4', ['-V']), remembered('mkfs.erofs', ['-V'])])).join('; ');
}
