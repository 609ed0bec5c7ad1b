/**
 * Runs a command-line (de)compressor as a stream filter: our bytes go to its
 * stdin, its stdout comes back as an async iterable. Node 20's zlib has no
 * zstd and no lz4, and Debian's tools are fast, exact and already what the
 * kernel's own build uses.
 *
 * The child never outlives the iteration: it is killed when the consumer
 * stops early, when the input fails, or when anything throws, and its stdin
 * errors (EPIPE when it dies first) are caught here rather than crashing the
 * process. A failing tool's stderr ends up in the error message, because
 * "exit code 1" alone tells a user nothing.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { HyperbuildError } from '../errors/errors.ts';

export interface FilterCommand {
  command: string;
  args: readonly string[];
  /** Debian package that provides `command`, for the "how to fix" hint. */
  debianPackage: string;
}

/** Turns the tool's failure (stderr text, exit status) into the error to throw. */
export type FailureMapper = (detail: string) => Error;

const STDERR_LIMIT = 4096;

export async function* spawnFilter(
  cmd: FilterCommand,
  input: AsyncIterable<Buffer>,
  onFailure: FailureMapper,
): AsyncGenerator<Buffer> {
  const child: ChildProcessWithoutNullStreams = spawn(cmd.command, cmd.args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    // LC_ALL=C keeps tool messages stable for users and tests.
    env: { ...process.env, LC_ALL: 'C' },
  });

  let spawnError: NodeJS.ErrnoException | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      spawnError ??= err;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });

  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += text.slice(0, STDERR_LIMIT - stderr.length);
  });
  // EPIPE/ECONNRESET when the tool exits before reading all input: the exit
  // status and stderr say why, so the write error itself is not interesting.
  child.stdin.on('error', () => {});

  let inputError: { error: unknown } | undefined;
  let stopped = false;
  const feeding = (async () => {
    try {
      for await (const chunk of input) {
        if (stopped || child.stdin.destroyed) return;
        if (!child.stdin.write(chunk)) await drainedOrClosed(child);
      }
      child.stdin.end();
    } catch (error) {
      inputError = { error };
      child.kill('SIGKILL');
    }
  })();

  let finished = false;
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const { code, signal } = await exited;
    // The feeder records an input error before it kills the child, so this
    // is known here without waiting for a possibly slow input.
    if (inputError !== undefined) throw inputError.error;
    if (spawnError !== undefined) throw spawnFailure(cmd, spawnError);
    if (code !== 0) {
      const status = signal !== null ? `was killed by ${signal}` : `exited with status ${code}`;
      const said = stderr.trim();
      throw onFailure(`${cmd.command} ${status}${said ? `: ${said}` : ''}`);
    }
    // Status 0 means the tool read our stdin to its end, so feeding is done.
    await feeding;
    // Re-read: TypeScript cannot see that the feeder may have set it meanwhile.
    const lateInputError = inputError as { error: unknown } | undefined;
    if (lateInputError !== undefined) throw lateInputError.error;
    finished = true;
  } catch (error) {
    // A missing binary can surface as a stdout error before 'error' fires.
    if (spawnError !== undefined && !(error instanceof HyperbuildError)) throw spawnFailure(cmd, spawnError);
    throw error;
  } finally {
    if (!finished) {
      stopped = true;
      child.stdin.destroy();
      child.stdout.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // Wait for the child so none is left behind, but not for the input:
      // it may be slow to yield, and the feeder stops at its next chunk.
      await exited;
    }
  }
}

function drainedOrClosed(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve) => {
    if (child.stdin.destroyed) {
      resolve();
      return;
    }
    const done = () => {
      child.stdin.off('drain', done);
      child.stdin.off('close', done);
      resolve();
    };
    child.stdin.on('drain', done);
    child.stdin.on('close', done);
  });
}

function spawnFailure(cmd: FilterCommand, err: NodeJS.ErrnoException): HyperbuildError {
  if (err.code === 'ENOENT') {
    return new HyperbuildError(`\`${cmd.command}\` is not installed (needed for ${cmd.debianPackage} compression)`, {
      hint: `Install it: apt-get install ${cmd.debianPackage}`,
      cause: err,
    });
  }
  return new HyperbuildError(`cannot run \`${cmd.command}\`: ${err.message}`, { cause: err });
}

/** Blocks in, a file out (compress/file-sink.ts): `write` resolves when the block may be reused. */
export interface BlockSink {
  write(block: Buffer): Promise<void>;
  /** All written: wait for the file to be complete. */
  end(): Promise<void>;
  /** Give up: stop any child, leave the file to the caller to remove. */
  abort(): Promise<void>;
}

/**
 * The same tool, writing straight into the file at `path` (its stdout is the
 * file), after the first `from` bytes: the compressed bytes never pass
 * through this process. A block given
 * to write() is the tool's to read until the promise resolves (the pipe took it).
 */
export function spawnFilterToFile(cmd: FilterCommand, path: string, onFailure: FailureMapper, opts: { from?: number } = {}): BlockSink {
  const fd = openSync(path, 'w');
  let child: ReturnType<typeof spawn>;
  try {
    // The tool writes from the descriptor's offset: leave the first `from` bytes to the caller.
    if (opts.from) writeSync(fd, Buffer.alloc(opts.from));
    child = spawn(cmd.command, cmd.args, { stdio: ['pipe', fd, 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
  } finally {
    closeSync(fd);
  }
  let spawnError: NodeJS.ErrnoException | undefined;
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      spawnError ??= err;
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += text.slice(0, STDERR_LIMIT - stderr.length);
  });
  child.stdin!.on('error', () => {});
  const failure = async (): Promise<Error> => {
    const { code, signal } = await exited;
    if (spawnError !== undefined) return spawnFailure(cmd, spawnError);
    const status = signal !== null ? `was killed by ${signal}` : `exited with status ${code}`;
    return onFailure(`${cmd.command} ${status}${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  };
  return {
    write: (block) =>
      new Promise((resolve, reject) => {
        if (child.stdin!.destroyed) return void failure().then(reject);
        child.stdin!.write(block, (err) => (err ? void failure().then(reject) : resolve()));
      }),
    end: async () => {
      child.stdin!.end();
      const { code } = await exited;
      if (spawnError !== undefined || code !== 0) throw await failure();
    },
    abort: async () => {
      child.stdin!.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
