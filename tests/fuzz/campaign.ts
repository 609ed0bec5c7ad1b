/**
 * A fuzz run: case seeds drawn from one run seed, cases run a few at a time
 * through contract.ts, a find for the marker afterwards, and a summary per
 * family (cases, exit codes, distinct error messages) with the seed of each
 * failing case and the command that reruns it alone.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cli.ts';
import { fuzzCase, type FuzzCase } from './cases.ts';
import { markerEscapes, runCase, snapshotCli, type CaseResult } from './contract.ts';
import { MARKER } from './layer-mutations.ts';
import { startRegistryFixture, type RegistryFixture } from './registry-cases.ts';
import { Rng } from './rng.ts';

export interface CampaignOptions {
  seed: number;
  cases: number;
  /** Run these case seeds instead of drawing `cases` from `seed`. */
  caseSeeds?: number[];
  /** Leave out the registry cases (no registry is started). */
  noRegistry?: boolean;
  concurrency?: number;
  log?: (line: string) => void;
}

export interface CampaignResult {
  results: CaseResult[];
  failures: CaseResult[];
  escapes: string[];
  seconds: number;
  summary: string;
}

/** Normalised error text, so messages that differ only in digests, numbers and paths count once. */
function messageShape(line: string | undefined): string {
  return (line ?? '').replace(/sha256:[0-9a-f]{6,64}/g, 'sha256:…').replace(/\/[^\s':,()]+/g, '/…').replace(/\d+/g, 'N').slice(0, 140);
}

function summarize(results: CaseResult[], failures: CaseResult[], escapes: string[], seconds: number, seed: number): string {
  const byFamily = new Map<string, CaseResult[]>();
  for (const r of results) byFamily.set(r.family, [...(byFamily.get(r.family) ?? []), r]);
  const lines = [`fuzz seed ${seed}: ${results.length} cases in ${seconds.toFixed(0)} s, ${failures.length} failed, ${escapes.length} files escaped`];
  for (const [family, rs] of [...byFamily].sort()) {
    const codes = new Map<string, number>();
    for (const r of rs) codes.set(String(r.status), (codes.get(String(r.status)) ?? 0) + 1);
    const shapes = new Set(rs.filter((r) => r.status !== 0).map((r) => messageShape(r.errorLine)));
    const codeText = [...codes].sort().map(([c, n]) => `exit ${c}: ${n}`).join(', ');
    lines.push(`  ${family.padEnd(15)} ${String(rs.length).padStart(4)} cases (${codeText}); ${shapes.size} distinct messages; ${rs.filter((r) => r.problems.length).length} failed`);
  }
  for (const f of failures.slice(0, 40)) {
    lines.push(`FAIL case seed ${f.seed} [${f.family}: ${f.mutation}] exit ${f.status} in ${f.seconds.toFixed(1)} s: ${f.problems.join('; ')}`);
    if (f.errorLine) lines.push(`     ${f.errorLine.slice(0, 300)}`);
    if (f.hintLine) lines.push(`     ${f.hintLine.slice(0, 300)}`);
    if (!f.errorLine && f.stderrTail) lines.push(...f.stderrTail.split('\n').map((l) => `     | ${l.slice(0, 300)}`));
    lines.push(`     rerun: node --import tsx tests/fuzz/run.ts --case-seed ${f.seed}`);
  }
  for (const e of escapes) lines.push(`ESCAPED ${e}`);
  return lines.join('\n');
}

/** The cases of a run: `cases` seeds drawn from the run seed (or the given case seeds). */
function planCases(opts: CampaignOptions): FuzzCase[] {
  const rng = new Rng(opts.seed);
  const seeds = opts.caseSeeds ?? Array.from({ length: opts.cases }, () => rng.seed32());
  return seeds.map(fuzzCase).filter((c) => !(opts.noRegistry && c.family === 'registry'));
}

export async function runCampaign(opts: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const work = mkdtempSync(join(tmpdir(), 'hyperbuild-fuzz-'));
  const log = opts.log ?? (() => {});
  let registry: RegistryFixture | undefined;
  try {
    const bin = snapshotCli(join(work, 'cli'));
    const cases = planCases(opts);
    if (cases.some((c) => c.family === 'registry')) registry = await startRegistryFixture(join(work, 'registry'));
    const results: CaseResult[] = new Array(cases.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < cases.length; i = next++) {
        const c = cases[i]!;
        const dir = join(work, `case-${i}`);
        results[i] = await runCase(bin, c, dir, c.family === 'registry' ? registry!.args(c) : []);
        if (results[i]!.problems.length === 0) rmSync(dir, { recursive: true, force: true });
        if ((i + 1) % 50 === 0) log(`fuzz: ${i + 1}/${cases.length} cases`);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? Math.max(2, availableParallelism()) }, worker));
    const escapes = await markerEscapes(MARKER, [work, tmpdir(), ROOT]);
    const failures = results.filter((r) => r.problems.length);
    const seconds = (Date.now() - started) / 1000;
    return { results, failures, escapes, seconds, summary: summarize(results, failures, escapes, seconds, opts.seed) };
  } finally {
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
