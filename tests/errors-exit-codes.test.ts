/**
 * The exit-code table: the README's table and the error classes agree (each
 * class exits with the code its row says, every class has a row), every class
 * but the two whose hint must come from the throw site has a default hint,
 * and the CLI prints each as one line plus a hint, with the JSON record.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as errors from '../toolchain/errors/errors.ts';
import { REPO } from './helpers/places.ts';
import { hyperbuild } from './helpers/cli.ts';

interface Row {
  code: string;
  errorClass: string;
}

function readmeTable(): Row[] {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const start = readme.indexOf('| code | class | when | message |');
  assert.ok(start > 0, 'README has the exit-code table');
  const rows: Row[] = [];
  for (const line of readme.slice(start).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    rows.push({ code: cells[1]!, errorClass: cells[2]!.replace(/`/g, '') });
  }
  return rows;
}

const classes = Object.entries(errors).filter(([, v]) => typeof v === 'function' && (v === errors.HyperbuildError || v.prototype instanceof errors.HyperbuildError)) as [string, new (m: string) => errors.HyperbuildError][];

test('the README table keeps the codes it always had (0, 1, 2, boot 125/126/127/128+N) and adds 3, 4, 124', () => {
  const codes = readmeTable().map((r) => r.code);
  assert.equal(codes, ['0', '1', '2', '3', '4', '124', '125', '126', '127', '128+N', "the app's"]);
});

test('each class in the table exits with its row code, and every error class has a row', () => {
  const rows = readmeTable().filter((r) => r.errorClass);
  for (const row of rows) {
    const found = classes.find(([name]) => name === row.errorClass);
    assert.ok(found, `README names class ${row.errorClass}, which toolchain/errors/errors.ts does not export`);
    const err = new found[1]('x');
    assert.is(String(err.exitCode), row.code, row.errorClass);
    assert.is(err.name, row.errorClass);
  }
  assert.equal(classes.map(([n]) => n).sort(), rows.map((r) => r.errorClass).sort());
});

test('the registry, access, deadline and VM classes carry a default hint; withHint never replaces a precise one', () => {
  for (const C of [errors.RegistryError, errors.AccessDeniedError, errors.DeadlineError, errors.VmFailureError]) assert.ok(new C('x').hint, C.name);
  assert.is(new errors.BadInputError('x', { hint: 'precise' }).withHint('generic').hint, 'precise');
  assert.is(new errors.BadInputError('x').withHint('generic').hint, 'generic');
  assert.match(new errors.AccessDeniedError('x', { registry: 'r.example' }).hint!, /hyperbuild login r\.example/);
});

test('oneLine escapes what a hostile name could smuggle into an error line', () => {
  assert.is(errors.oneLine('a\nb\x1b[31mc\td'), 'a\\nb\\x1b[31mc\\td');
});

test('the CLI: a bad input is one error line plus a hint, exit 2, and the JSON record names the class', () => {
  const r = hyperbuild(['build', 'oci:/nonexistent/layout\nx', '-o', '/tmp/never-written-errors-test', '--json'], { from: 'source' });
  assert.is(r.status, 2, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.is(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /^hyperbuild: error: invalid image reference 'oci:\/nonexistent\/layout\\nx'/);
  assert.match(lines[1]!, /^hint: /);
  const json = JSON.parse(r.stdout.trim().split('\n').pop()!) as { error: { class: string; exitCode: number; hint: string } };
  assert.is(json.error.class, 'BadInputError');
  assert.is(json.error.exitCode, 2);
  assert.ok(json.error.hint);
});

test.run();
