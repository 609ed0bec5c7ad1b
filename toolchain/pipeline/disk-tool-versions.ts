import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `mke2fs 1.47.0 …` / `mkfs.erofs 1.5` lines: part of the build key of disk-rootfs bundles. */
export async function diskToolVersions(): Promise<string> {
  const version = async (cmd: string, args: string[]) => {
    try {
      const { stdout, stderr } = await run(cmd, args);
      return `${stdout}${stderr}`.split('\n')[0].trim();
    } catch (err) {
      return `${cmd}: ${(err as NodeJS.ErrnoException).code ?? 'unavailable'}`;
    }
  };
  return [await version('mkfs.ext4', ['-V']), await version('mkfs.erofs', ['-V'])].join('; ');
}
