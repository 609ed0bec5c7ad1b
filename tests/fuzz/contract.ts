/**
 * Runs one fuzz case through the real CLI (bin/hyperbuild, the built bundle
 * a user runs) in a sandbox of its own (cwd, HOME, TMPDIR, XDG cache, blob
 * cache, output parent), and checks the contract of issue 16 on it: an exit
 * code the table allows, one error line plus a specific hint, no stack
 * trace, no partial output, wall time under a bound. Files escaping to the
 * host are looked for once per run (markerEscapes), by the marker name.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileDigestsUnder } from './snapshot-digest.ts';
import { defaultKernelCacheDir } from '../../toolchain/kernel/kernel-cache.ts';
import { ROOT } from '../helpers/cli.ts';
import type { FuzzCase, PreparedCase } from './cases.ts';

/** A case taking longer is a failure (a hang detector, not a performance check). */
export const CASE_BOUND_S = 30;
/** And is killed at this point. */
const KILL_AFTER_MS = 60_000;
/** The fallback the CLI prints when no throw site or boundary gave a hint: not good enough for an image input. */
const GENERIC_HINT = /^hint: see 'hyperbuild build --help' for what it accepts$/;

export interface CaseResult {
  seed: number;
  family: string;
  mutation: string;
  status: number | null;
  seconds: number;
  errorLine?: string;
  hintLine?: string;
  problems: string[];
  /** The end of stderr, kept for failures. */
  stderrTail?: string;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * A private copy of the built CLI (bin/ and dist/; everything else of the
 * checkout linked), so a `make cli` run by someone else mid-campaign cannot
 * swap the bundle under a case. Copied again until the copy matches dist/.
 */
export function snapshotCli(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const name of readdirSync(ROOT)) if (!['bin', 'dist', '.git'].includes(name)) symlinkSync(join(ROOT, name), join(dir, name));
  for (let attempt = 0; ; attempt++) {
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true, force: true });
    cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true, force: true });
    if (fileDigestsUnder(join(ROOT, 'dist')) === fileDigestsUnder(join(dir, 'dist')) || attempt >= 5) return join(dir, 'bin', 'hyperbuild');
  }
}

function runCli(bin: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ status: code, stdout, stderr, seconds: (Date.now() - started) / 1000 });
    });
  });
}

/** The contract, as a list of what is wrong (empty: the case passed). */
function check(run: Run, prepared: PreparedCase, outParent: string): { problems: string[]; errorLine?: string; hintLine?: string } {
  const problems: string[] = [];
  const allowed = prepared.allowed ?? [0, 2];
  if (run.status === null) problems.push(`killed after ${KILL_AFTER_MS / 1000} s`);
  else if (prepared.expectStatus !== undefined && run.status !== prepared.expectStatus) problems.push(`exit ${run.status}, this case must exit ${prepared.expectStatus}`);
  else if (!allowed.includes(run.status)) problems.push(`exit ${run.status}, not one of ${allowed.join('/')} the exit-code table gives this input`);
  if (run.seconds > CASE_BOUND_S) problems.push(`took ${run.seconds.toFixed(1)} s, over the ${CASE_BOUND_S} s bound`);
  if (/^\s+at .+:\d+:\d+\)?$/m.test(run.stderr) || /internal error/.test(run.stderr)) problems.push('stack trace or internal error on stderr');
  const lines = run.stderr.trimEnd().split('\n');
  const errors = lines.filter((l) => l.startsWith('hyperbuild: error:') || l.startsWith('hyperbuild: internal'));
  let errorLine: string | undefined;
  let hintLine: string | undefined;
  const made = readdirSync(outParent);
  if (run.status === 0) {
    if (errors.length) problems.push('exit 0 with an error line');
    if (!existsSync(join(outParent, 'out', 'bundle.json'))) problems.push('exit 0 but no bundle.json');
    if (made.join() !== 'out') problems.push(`output parent holds ${made.join(', ')}`);
  } else if (run.status !== null) {
    errorLine = lines.at(-2);
    hintLine = lines.at(-1);
    if (errors.length !== 1) problems.push(`${errors.length} error lines, not 1`);
    if (!errorLine?.startsWith('hyperbuild: error: ')) problems.push('the error line is not the second-to-last line');
    if (!hintLine?.startsWith('hint: ') || hintLine.length < 12) problems.push('no hint line after the error');
    else if (GENERIC_HINT.test(hintLine)) problems.push('only the generic hint');
    if (made.length) problems.push(`partial output left: ${made.join(', ')}`);
    if (prepared.expectMessage && !prepared.expectMessage.test(errorLine ?? '')) problems.push(`the error does not match ${prepared.expectMessage}`);
  }
  return { problems, errorLine, hintLine };
}

/** Prepare and run one case in `dir` (created here). */
export async function runCase(bin: string, fuzz: FuzzCase, dir: string, extraArgs: string[] = []): Promise<CaseResult> {
  const places = ['input', 'cwd', 'home', 'tmp', 'xdg', 'cache', 'outparent'].map((p) => join(dir, p));
  for (const p of places) mkdirSync(p, { recursive: true });
  const [input, cwd, home, tmp, xdg, cache, outParent] = places as [string, string, string, string, string, string, string];
  const base = { seed: fuzz.seed, family: fuzz.family, mutation: fuzz.mutation };
  let prepared: PreparedCase;
  try {
    prepared = await fuzz.prepare(input);
  } catch (err) {
    return { ...base, status: null, seconds: 0, problems: [`the fuzzer could not prepare the case: ${(err as Error).stack}`] };
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    TMPDIR: tmp,
    XDG_CACHE_HOME: xdg,
    LANG: 'C.UTF-8',
    HYPERBUILD_TEST_RUN: process.env.HYPERBUILD_TEST_RUN,
  };
  const args = ['build', prepared.reference, '-o', join(outParent, 'out'), '--cache-dir', cache, '--kernel-cache-dir', defaultKernelCacheDir(), ...(prepared.args ?? []), ...extraArgs];
  try {
    const run = await runCli(bin, args, cwd, env);
    const checked = check(run, prepared, outParent);
    const stderrTail = checked.problems.length ? run.stderr.trimEnd().split('\n').slice(-6).join('\n') : undefined;
    return { ...base, status: run.status, seconds: run.seconds, ...checked, stderrTail };
  } finally {
    await prepared.cleanup?.();
  }
}

/** Files named with the marker anywhere the build could have written: the run's work dir, the temp dir, the checkout. */
export async function markerEscapes(marker: string, roots: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const root of roots) {
    const run = await new Promise<string>((resolve) => {
      const child = spawn('find', [root, '-xdev', '(', '-path', join(ROOT, 'node_modules'), '-o', '-path', join(ROOT, '.git'), ')', '-prune', '-o', '-name', `*${marker}*`, '-print'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.on('close', () => resolve(out));
    });
    found.push(...run.split('\n').filter(Boolean));
  }
  return found;
}
