/**
 * No-op benchmark: what a Makefile pays when nothing changed. A project made
 * by `hyperbuild init` (templates/plain, the fixture hello image), built once;
 * then, in interleaved rounds, `hyperbuild build NAME` of the unchanged
 * bundle (progress to a pipe, as under make; and --json), the same by image
 * reference and -o, and the template's second `make` (which runs nothing),
 * against Node's own start-up (`node -e 0`) and a command that starts the
 * full oclif CLI. Medians (and minima) of rounds.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, row, timeCommand } from './timing.ts';

const ROUNDS = Number(process.env.BENCH_RUNS ?? 3) * 7;
const kernelEnv = { HYPERBUILD_KERNEL_CACHE_DIR: process.env.HYPERBUILD_KERNEL_CACHE_DIR ?? join(process.env.HOME ?? '/root', '.cache', 'hyperbuild') };

export function noopBench(root: string): string[] {
  const bin = join(root, 'bin', 'hyperbuild');
  const work = mkdtempSync(join(tmpdir(), 'hb-bench-noop-'));
  const project = join(work, 'app');
  const env = { ...kernelEnv, XDG_CACHE_HOME: join(work, 'cache'), MAKEFLAGS: '', MAKELEVEL: '' };
  try {
    timeCommand(bin, ['init', '--template', 'plain', project], { env });
    cpSync(join(root, 'fixtures', 'out', 'busybox'), join(project, 'image'), { recursive: true });
    const file = join(project, 'hyperbuild.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('image: oci:image:latest', 'image: oci:image:hello'));
    timeCommand('make', [`HYPERBUILD=${bin}`], { cwd: project, env });
    timeCommand(bin, ['build', 'oci:image:hello', '-o', 'out/by-reference'], { cwd: project, env });
    const at = { cwd: project, env };
    // Each command spelled out (not a table of programs): tests/deps-packages.test.ts traces every program spawned.
    const commands: [string, () => number][] = [
      ['node -e 0 (Node start-up alone)', () => timeCommand(process.execPath, ['-e', '0'], at)],
      ['hyperbuild version (full oclif CLI start-up)', () => timeCommand(bin, ['version'], at)],
      ['hyperbuild build app (no-op, progress to a pipe)', () => timeCommand(bin, ['build', 'app', '--depfile', 'out/app.d'], at)],
      ['hyperbuild build app --json (no-op)', () => timeCommand(bin, ['build', 'app', '--json'], at)],
      ['hyperbuild build oci:image:hello -o DIR (no-op)', () => timeCommand(bin, ['build', 'oci:image:hello', '-o', 'out/by-reference'], at)],
      ['make, second run (nothing to do)', () => timeCommand('make', [`HYPERBUILD=${bin}`], at)],
    ];
    const times = commands.map(() => [] as number[]);
    for (let round = 0; round < ROUNDS; round++) commands.forEach(([, time], i) => times[i].push(time()));
    const base = median(times[0]);
    const lines = [`## no-op: an unchanged bundle, ${ROUNDS} interleaved rounds`, row(['command', 'median s', 'min s', 'vs node -e 0'])];
    commands.forEach(([label], i) => lines.push(row([label, median(times[i]), Math.min(...times[i]), median(times[i]) / base])));
    return lines;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
