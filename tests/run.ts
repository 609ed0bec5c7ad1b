/**
 * Runs every tests/*.test.ts with uvu, each file in its own process (a VM
 * test's signal handlers or sockets cannot leak into the next file), and ends
 * with the line `N passed, N failed` that CI reads. A file that crashes or
 * times out counts as a failure; so does a QEMU process left behind.
 *
 * Usage: node --import tsx tests/run.ts [REGEX]   (matched against file names)
 */
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const testsDir = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const pattern = new RegExp(process.argv[2] ?? '');
const FILE_LIMIT_MS = Number(process.env.HYPERBUILD_TEST_FILE_TIMEOUT_MS ?? 15 * 60 * 1000);

function qemuCount(): number {
  try {
    return Number(execFileSync('pgrep', ['-c', '-f', '^qemu-system']).toString().trim());
  } catch {
    return 0;
  }
}

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
}

function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  const escaped = file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const child = spawn(process.execPath, ['--import', 'tsx', 'node_modules/uvu/bin.js', 'tests', `^${escaped}$`], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    process.stdout.write(d);
    out = (out + d.toString()).slice(-(1 << 16));
  });
  const timer = setTimeout(() => {
    process.stdout.write(`\n${file}: exceeded ${FILE_LIMIT_MS / 1000} s; stopping it\n`);
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  }, FILE_LIMIT_MS);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
      const num = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(plain)?.[1] ?? 0);
      const total = num('Total');
      const passed = num('Passed');
      const skipped = num('Skipped');
      // uvu's Total counts the tests that ran; skipped ones are reported apart.
      let failed = total - passed;
      // A crash, a timeout or uvu's "Exiting early" all end without a clean summary.
      if ((code !== 0 || /Exiting early/.test(plain) || total + skipped === 0) && failed === 0) failed = 1;
      resolve({ file, passed, failed, skipped, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const files = readdirSync(testsDir).filter((f) => f.endsWith('.test.ts') && pattern.test(f)).sort();
const before = qemuCount();
const results: FileResult[] = [];
for (const file of files) results.push(await runFile(file));

process.stdout.write('\n');
for (const r of results) {
  process.stdout.write(`${r.failed ? 'FAIL' : 'ok  '} ${r.file.padEnd(36)} ${String(r.passed).padStart(3)} passed ${String(r.failed).padStart(2)} failed ${r.skipped ? `${r.skipped} skipped ` : ''}(${r.seconds.toFixed(0)} s)\n`);
}
let passed = results.reduce((n, r) => n + r.passed, 0);
let failed = results.reduce((n, r) => n + r.failed, 0);
const skipped = results.reduce((n, r) => n + r.skipped, 0);
const leftover = qemuCount() - before;
if (leftover > 0) {
  process.stdout.write(`FAIL the suite left ${leftover} qemu process(es) running\n`);
  failed += 1;
} else {
  passed += 1;
  process.stdout.write('ok   no qemu processes left behind\n');
}
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 ? 1 : 0);
