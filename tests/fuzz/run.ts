/**
 * `make fuzz`: a long fuzz run from the command line.
 *   node --import tsx tests/fuzz/run.ts [--seed N] [--cases N] [--no-registry]
 *   node --import tsx tests/fuzz/run.ts --case-seed S [--case-seed S2 …]   (rerun failing cases)
 * Without --seed the run seed is random and printed first, so any run can be
 * repeated; every failing case is printed with its own seed. Exit 1 when any
 * case broke the contract or a file escaped.
 */
import { runCampaign } from './campaign.ts';

function flag(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => a === name && process.argv[i + 1] !== undefined && out.push(process.argv[i + 1]!));
  return out;
}

const seed = Number(flag('--seed')[0] ?? Math.floor(Math.random() * 2 ** 32));
const cases = Number(flag('--cases')[0] ?? 2000);
const caseSeeds = flag('--case-seed').map(Number);
process.stdout.write(`fuzz: run seed ${seed}${caseSeeds.length ? `, case seeds ${caseSeeds.join(' ')}` : `, ${cases} cases`}\n`);
const result = await runCampaign({
  seed,
  cases,
  caseSeeds: caseSeeds.length ? caseSeeds : undefined,
  noRegistry: process.argv.includes('--no-registry'),
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(`${result.summary}\n`);
process.exitCode = result.failures.length || result.escapes.length ? 1 : 0;
