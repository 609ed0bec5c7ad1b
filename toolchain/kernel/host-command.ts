/**
 * Runs a host tool (dpkg-query, gcc, apt-get, dpkg-deb, depmod) and returns
 * its stdout. Kernel resolution leans on Debian's own tools rather than
 * reimplementing them; when one is missing or fails, the user gets the
 * tool's stderr and which package to install instead of a bare exit code.
 */
import { spawn } from 'node:child_process';
import { HyperbuildError } from '../errors/errors.ts';

export interface HostCommand {
  command: string;
  args: readonly string[];
  /** Debian package providing `command`, for the hint. */
  debianPackage: string;
  cwd?: string;
}

const STDERR_LIMIT = 4096;

export async function runHostCommand(cmd: HostCommand): Promise<string> {
  return new Promise((resolve, reject) => {
    // LC_ALL=C: we parse the output, and messages stay stable for tests.
    const child = spawn(cmd.command, cmd.args, { cwd: cmd.cwd, env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (t: string) => {
      if (stderr.length < STDERR_LIMIT) stderr += t;
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new HyperbuildError(`cannot run ${cmd.command}: ${err.code === 'ENOENT' ? 'not found' : err.message}`, {
          hint: `install it: apt-get install ${cmd.debianPackage}`,
          cause: err,
        }),
      );
    });
    child.once('close', (code, signal) => {
      if (code === 0) return resolve(Buffer.concat(out).toString('utf8'));
      const detail = stderr.trim().split('\n').slice(-3).join(' / ') || (signal ? `killed by ${signal}` : `exit status ${code}`);
      reject(new HyperbuildError(`${cmd.command} ${cmd.args.join(' ')} failed: ${detail}`));
    });
  });
}
