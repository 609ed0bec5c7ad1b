/**
 * Build progress on a terminal nobody sized (a pty with 0 columns, as `script`
 * gives under CI): plain lines, not listr2's live tree wrapped at width 0
 * (one character per line). Runs the built CLI on a pty made by `script`
 * (bsdutils, Debian Essential).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgv } from './helpers/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'progress-terminal-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

function onPty(size: string, args: string[]): string[] {
  const cmd = `${size ? `stty ${size}; ` : ''}${cliArgv(args).map(quote).join(' ')}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000 });
  return r.stdout.split(/\r?\n/).map((l) => l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '').trim()).filter(Boolean);
}

const BAD = ['build', `oci:${join(tmp, 'missing')}:x`, '-o', join(tmp, 'out')];

test('a pty of no width: whole plain lines, the failure named once on its step', () => {
  const lines = onPty('cols 0 rows 0', BAD);
  assert.ok(lines.length > 0 && lines.length < 12, lines.join('\n'));
  assert.ok(lines.every((l) => l.length > 3), `a line of one character: ${JSON.stringify(lines)}`);
  assert.ok(lines.some((l) => /Resolve image .*FAILED: OCI layout/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('hyperbuild: error: OCI layout')), lines.join('\n'));
});

test('a sized pty still gets the live tree', () => {
  const lines = onPty('cols 100 rows 40', BAD);
  assert.ok(lines.every((l) => l.length > 3), JSON.stringify(lines));
  assert.ok(lines.some((l) => l.startsWith('hyperbuild: error: OCI layout')), lines.join('\n'));
});

test.run();
