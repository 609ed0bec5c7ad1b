/**
 * Runs one of the filesystem tools (mkfs.ext4, debugfs, tar, mkfs.erofs,
 * fakeroot) with a fixed environment and, optionally, a byte stream on
 * stdin. Disk images are built by these tools rather than by our own
 * writer: they are what the kernel's filesystems are tested against.
 *
 * debugfs reports failed commands on stderr but still exits 0, so callers
 * get stderr back and decide what counts as a failure.
 */
import { spawn } from 'node:child_process';
import { HyperbuildError } from '../errors/errors.ts';

export interface DiskTool {
  command: string;
  args: readonly string[];
  /** Debian package providing `command`, for the "install it" hint. */
  debianPackage: string;
  /** Added to the environment (LC_ALL=C is always set: we read the messages). */
  env?: Record<string, string>;
  stdin?: AsyncIterable<Buffer>;
}

const STDERR_LIMIT = 64 * 1024;

export async function runDiskTool(tool: DiskTool): Promise<{ stdout: string; stderr: string }> {
  const child = spawn(tool.command, tool.args, {
    env: { ...process.env, LC_ALL: 'C', ...tool.env },
    stdio: [tool.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (t: string) => {
    if (stdout.length < STDERR_LIMIT) stdout += t;
  });
  child.stderr!.setEncoding('latin1');
  child.stderr!.on('data', (t: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += t;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  let feedError: unknown;
  if (tool.stdin) {
    const stdin = child.stdin!;
    // EPIPE when the tool dies first: its exit status and stderr say why.
    stdin.on('error', () => {});
    try {
      for await (const chunk of tool.stdin) {
        if (stdin.destroyed) break;
        if (!stdin.write(chunk)) {
          await new Promise<void>((resolve) => {
            const done = () => {
              stdin.off('drain', done);
              stdin.off('close', done);
              resolve();
            };
            stdin.on('drain', done);
            stdin.on('close', done);
          });
        }
      }
      stdin.end();
    } catch (err) {
      feedError = err;
      child.kill('SIGKILL');
    }
  }

  const { code, signal, error } = await exited;
  if (feedError !== undefined) throw feedError;
  if (error) {
    throw new HyperbuildError(`cannot run ${tool.command}: ${error.code === 'ENOENT' ? 'not found' : error.message}`, {
      hint: `install it: apt-get install ${tool.debianPackage}`,
      cause: error,
    });
  }
  if (code !== 0) {
    // mkfs.erofs follows its error with the whole usage text: keep what came before it.
    const lines = stderr.trim().split('\n');
    const usage = lines.findIndex((l) => /^usage:/i.test(l.trim()));
    const detail = (usage >= 0 ? lines.slice(0, usage) : lines).slice(-5).join(' / ').trim() || (signal ? `killed by ${signal}` : `exit status ${code}`);
    throw new HyperbuildError(`${tool.command} failed while writing the disk root filesystem: ${detail}`);
  }
  return { stdout, stderr };
}
