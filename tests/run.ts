/**
 * Runs every tests/*.test.ts with uvu, each file in its own process (a VM
 * test's signal handlers or sockets cannot leak into the next file), and ends
 * with the line `N passed, N failed` that CI reads. Only tests that ran are
 * counted as passed. A file that crashes, times out or runs no test counts as
 * a failure; so do two suite checks, which never count as passes: no test
 * file matching the pattern, and a QEMU process left behind.
 *
 * Usage: node --import tsx tests/run.ts [REGEX]   (matched against file names)
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const testsDir = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));
const pattern = new RegExp(process.argv[2] ?? '');
const FILE_LIMIT_MS = Number(process.env.HYPERBUILD_TEST_FILE_TIMEOUT_MS ?? 15 * 60 * 1000);

/**
 * Every process this run starts inherits this tag, QEMU included (hyperbuild
 * spawns it with the caller's environment), so the leftover check counts only
 * our own QEMU processes, not those of another run on the same machine.
 */
const RUN_TAG = `HYPERBUILD_TEST_RUN=${process.pid}-${Date.now()}`;
process.env.HYPERBUILD_TEST_RUN = RUN_TAG.slice(RUN_TAG.indexOf('=') + 1);

/** Live QEMU processes (argv[0] names qemu-system-*) that carry this run's tag. */
function ourQemuProcesses(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv0 = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0')[0];
      if (!/(^|\/)qemu-system-/.test(argv0)) continue;
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(RUN_TAG)) pids.push(Number(name));
    } catch {
      // The process exited while we looked, or is not ours to read.
    }
  }
  return pids;
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

/** The suite-level checks: each adds a failure when it fails and nothing when it passes. */
function suiteChecks(fileCount: number): number {
  let failures = 0;
  if (fileCount === 0) {
    process.stdout.write(`FAIL no test file in tests/ matches ${pattern} (file names end in .test.ts)\n`);
    failures += 1;
  }
  const leftover = ourQemuProcesses();
  if (leftover.length > 0) {
    process.stdout.write(`FAIL the suite left ${leftover.length} qemu process(es) running (pid ${leftover.join(', ')})\n`);
    failures += 1;
  } else {
    process.stdout.write('(check) no qemu processes left behind\n');
  }
  return failures;
}

const files = readdirSync(testsDir).filter((f) => f.endsWith('.test.ts') && pattern.test(f)).sort();
const results: FileResult[] = [];
for (const file of files) results.push(await runFile(file));

process.stdout.write('\n');
for (const r of results) {
  process.stdout.write(`${r.failed ? 'FAIL' : 'ok  '} ${r.file.padEnd(36)} ${String(r.passed).padStart(3)} passed ${String(r.failed).padStart(2)} failed ${r.skipped ? `${r.skipped} skipped ` : ''}(${r.seconds.toFixed(0)} s)\n`);
}
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0) + suiteChecks(files.length);
const skipped = results.reduce((n, r) => n + r.skipped, 0);
process.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed > 0 ? 1 : 0);
