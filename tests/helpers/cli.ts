/**
 * The one way tests run hyperbuild's command line, in two flavours:
 * - `built`: bin/hyperbuild, the bundled CLI a user runs (needs `make cli`);
 * - `source`: the same oclif commands straight from the TypeScript sources
 *   (no dist/ build needed), by running this file as a program:
 *   `node --import tsx tests/helpers/cli.ts COMMAND [ARGS…]` (`kernel build`
 *   is two words, as on the real CLI). Exit status and stdio are exactly the
 *   command's.
 * `hyperbuild()` runs synchronously, `runCli()` asynchronously (concurrent
 * runs, stdin, watching stdout), `cliArgv()` gives the argv for tests that
 * must spawn it themselves (on a pty, with signals).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURES, REPO } from './places.ts';

export { FIXTURES };
export const ROOT = REPO;
export const BIN = join(REPO, 'bin', 'hyperbuild');
const SELF = fileURLToPath(import.meta.url);

export type CliFlavour = 'built' | 'source';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Which CLI runs; default `built`. */
  from?: CliFlavour;
}

/** The command line that runs `hyperbuild ARGS…`: argv[0] is the program. */
export function cliArgv(args: string[], from: CliFlavour = 'built'): [string, ...string[]] {
  return from === 'built' ? [BIN, ...args] : [process.execPath, '--import', 'tsx', SELF, ...args];
}

/** Run the CLI and wait for it, as a user would from a shell. */
export function hyperbuild(args: string[], opts: CliOptions & { timeoutMs?: number } = {}): CliResult {
  const [program, ...argv] = cliArgv(args, opts.from);
  const r = spawnSync(program, argv, {
    cwd: REPO,
    env: { ...process.env, ...opts.env },
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 300_000,
    maxBuffer: 64 << 20,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run the CLI without blocking; `onStdout` sees the stdout so far after each chunk. */
export function runCli(args: string[], opts: CliOptions & { onStdout?: (soFar: string, pid: number) => void } = {}): Promise<CliResult> {
  const [program, ...argv] = cliArgv(args, opts.from);
  return new Promise((resolve, reject) => {
    const child = spawn(program, argv, { cwd: REPO, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      opts.onStdout?.(stdout, child.pid!);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ status: code ?? (signal ? -1 : 1), stdout, stderr }));
    child.stdin.on('error', () => {}).end(opts.input ?? '');
  });
}

/** The source CLI: look the command up in the real command map and run it with the repository's package.json. */
async function runFromSources(argv: string[]): Promise<void> {
  const [{ Config, Errors }, { COMMANDS }] = await Promise.all([import('@oclif/core'), import('../../toolchain/cli/commands.ts')]);
  const two = `${argv[0]}:${argv[1]}`;
  const [id, rest] = two in COMMANDS ? [two, argv.slice(2)] : [argv[0], argv.slice(1)];
  const command = COMMANDS[id as keyof typeof COMMANDS];
  if (!command) {
    process.stderr.write(`tests/helpers/cli.ts: unknown command ${JSON.stringify(argv.slice(0, 2).join(' '))}\n`);
    process.exitCode = 2;
    return;
  }
  // Without the command map: oclif would otherwise load dist/ through tsx (~40 s a run).
  const pjson = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
  delete pjson.oclif.commands;
  const config = await Config.load({ root: REPO, pjson });
  try {
    // The static run() is the same for all; TS cannot unify `this` across the union.
    await (command as (typeof COMMANDS)['version']).run(rest, config);
  } catch (err) {
    const exit = (err as InstanceType<typeof Errors.CLIError>).oclif?.exit;
    if (err instanceof Errors.ExitError || exit !== undefined) {
      process.exitCode = exit ?? 1;
    } else {
      process.stderr.write(`tests/helpers/cli.ts: ${(err as Error).stack}\n`);
      process.exitCode = 1;
    }
  }
}

// Imported by tests, this file only exports; run as a program, it is the source CLI.
if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  await runFromSources(process.argv.slice(2));
}
