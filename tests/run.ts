/**
 * Runs every tests/*.test.ts with uvu (one process, files in name order) and
 * ends with the line `N passed, N failed` that CI reads. Also fails the run if
 * the suite left QEMU processes behind, and bounds the whole run in time.
 *
 * Usage: node --import tsx tests/run.ts [PATTERN]
 */
import { execFileSync, spawn } from 'node:child_process';

const pattern = process.argv[2];
const LIMIT_MS = Number(process.env.HYPERBUILD_TEST_TIMEOUT_MS ?? 40 * 60 * 1000);

function qemuCount(): number {
  try {
    return Number(execFileSync('pgrep', ['-c', '-f', '^qemu-system']).toString().trim());
  } catch {
    return 0;
  }
}

const before = qemuCount();
const args = ['--import', 'tsx', 'node_modules/uvu/bin.js', 'tests', ...(pattern ? [pattern] : ['\\.test\\.ts$']), '-i', 'helpers'];
const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
child.stdout.on('data', (d: Buffer) => {
  process.stdout.write(d);
  out += d.toString();
  if (out.length > 1 << 20) out = out.slice(-(1 << 16));
});
const timer = setTimeout(() => {
  process.stdout.write(`\ntest run exceeded ${LIMIT_MS / 1000} s; stopping it\n`);
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGKILL'), 5000).unref();
}, LIMIT_MS);

child.on('close', (code) => {
  clearTimeout(timer);
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? 0);
  const total = num('Total');
  let passed = num('Passed');
  let failed = total - passed - num('Skipped');
  if (code !== 0 && failed === 0) failed = 1;
  const leftover = qemuCount() - before;
  if (leftover > 0) {
    process.stdout.write(`\nFAIL: the suite left ${leftover} qemu process(es) running\n`);
    failed += 1;
  } else {
    passed += 1;
    process.stdout.write('\nok: no qemu processes left behind\n');
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed > 0 ? 1 : 0);
});
