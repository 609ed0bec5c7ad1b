/**
 * `make bench`: every benchmark section in one run, printed as tables with
 * ratios against the peer tools. Not part of the tests: timings vary by machine.
 * BENCH_ONLY=build,boot limits the sections.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBench } from './build.bench.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'bench', 'out');
mkdirSync(out, { recursive: true });
const only = process.env.BENCH_ONLY?.split(',');
const sections: [string, () => string[]][] = [['build', () => buildBench(root, out)]];

for (const [name, run] of sections) {
  if (only && !only.includes(name)) continue;
  for (const line of run()) process.stdout.write(`${line}\n`);
  process.stdout.write('\n');
}
