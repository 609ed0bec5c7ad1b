import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { applyPaxRecords, emptyPaxFields, mergePaxFields, parsePaxRecords } from '../toolchain/tar/pax.ts';
import { paxRecord } from '../toolchain/tar/writer.ts';

const records = (...pairs: Array<[string, Buffer | string]>): Buffer =>
  Buffer.concat(pairs.map(([k, v]) => paxRecord(k, typeof v === 'string' ? Buffer.from(v, 'latin1') : v)));

test('record lengths count their own digits, across the 9/10 and 99/100 boundaries', () => {
  for (let n = 0; n < 120; n++) {
    const record = paxRecord('k', Buffer.alloc(n, 0x61));
    assert.is(Number(record.toString('latin1').split(' ')[0]), record.length, `value of ${n} bytes`);
    assert.equal(parsePaxRecords(record, 'x'), [{ key: 'k', value: Buffer.alloc(n, 0x61) }]);
  }
});

test('values are raw bytes: newline, =, NUL and invalid UTF-8 survive', () => {
  const binary = Buffer.from([0x01, 0x00, 0x0a, 0x3d, 0xff, 0xc3, 0x28, 0x0a]);
  const parsed = parsePaxRecords(records(['SCHILY.xattr.security.capability', binary]), 'x');
  assert.is(parsed.length, 1);
  assert.ok(parsed[0]!.value.equals(binary));
  const fields = emptyPaxFields();
  applyPaxRecords(fields, parsed, 'x', false);
  assert.ok(fields.xattrs.get('security.capability')!.equals(binary));
});

test('path and linkpath keep UTF-8 bytes as byte strings', () => {
  const fields = emptyPaxFields();
  applyPaxRecords(fields, parsePaxRecords(records(['path', Buffer.from('café/\u00ff', 'utf8')], ['linkpath', Buffer.from([0xff, 0xfe])]), 'x'), 'x', false);
  assert.is(fields.path, 'caf\u00c3\u00a9/\u00c3\u00bf');
  assert.is(fields.linkpath, '\u00ff\u00fe');
});

test('numbers: size, uid, gid; fractional and negative mtime truncated toward zero', () => {
  const fields = emptyPaxFields();
  const data = records(['size', '9663676416'], ['uid', '3000000'], ['gid', '123456'], ['mtime', '1700000000.987654321'], ['uname', 'root'], ['atime', 'x.y']);
  applyPaxRecords(fields, parsePaxRecords(data, 'x'), 'x', false);
  assert.equal([fields.size, fields.uid, fields.gid, fields.mtime], [9663676416, 3000000, 123456, 1700000000]);
  applyPaxRecords(fields, parsePaxRecords(records(['mtime', '-1.5']), 'x'), 'x', false);
  assert.is(fields.mtime, -1);
});

test('bad numbers are BadInputErrors', () => {
  for (const [key, value] of [['size', '-1'], ['uid', '12a'], ['size', '99999999999999999'], ['mtime', '1e9'], ['gid', '']] as const) {
    const fields = emptyPaxFields();
    if (value === '') continue; // empty means delete, covered below
    assert.throws(() => applyPaxRecords(fields, parsePaxRecords(records([key, value]), 'x'), 'x', false), (e: Error) => e instanceof BadInputError, `${key}=${value}`);
  }
});

test('LIBARCHIVE.xattr: %-encoded name, base64 value', () => {
  const value = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff]);
  const fields = emptyPaxFields();
  applyPaxRecords(fields, parsePaxRecords(records(['LIBARCHIVE.xattr.user.a%3Db%25', value.toString('base64')]), 'x'), 'x', false);
  assert.ok(fields.xattrs.get('user.a=b%')!.equals(value));
  assert.throws(
    () => applyPaxRecords(emptyPaxFields(), parsePaxRecords(records(['LIBARCHIVE.xattr.user.x', 'not base64!']), 'x'), 'x', false),
    (e: Error) => e instanceof BadInputError,
  );
});

test('LIBARCHIVE and SCHILY records for one xattr must agree', () => {
  const agree = records(['LIBARCHIVE.xattr.user.a', Buffer.from('hi').toString('base64')], ['SCHILY.xattr.user.a', 'hi']);
  const fields = emptyPaxFields();
  applyPaxRecords(fields, parsePaxRecords(agree, 'x'), 'x', false);
  assert.is(fields.xattrs.get('user.a')!.toString(), 'hi');
  const differ = records(['LIBARCHIVE.xattr.user.a', Buffer.from('hi').toString('base64')], ['SCHILY.xattr.user.a', 'ho']);
  assert.throws(() => applyPaxRecords(emptyPaxFields(), parsePaxRecords(differ, 'x'), 'x', false), /contradicts/);
});

test('NUL bytes in names are refused (C readers would see a shorter name)', () => {
  for (const [key, value] of [['path', 'a\0b'], ['linkpath', '\0'], ['GNU.sparse.name', 'x\0'], ['SCHILY.xattr.user.a\0b', 'v']]) {
    assert.throws(() => applyPaxRecords(emptyPaxFields(), parsePaxRecords(records([key!, value!]), 'x'), 'x', false), /NUL byte/, key);
  }
});

test('malformed records are refused', () => {
  const bad = ['5 a=b\n', '13 path=abc\n', 'x path=a\n', '7 path\n', '6 =ab\n', '30 path=short\n', '9 path=a\0'];
  for (const text of bad) {
    assert.throws(() => parsePaxRecords(Buffer.from(text, 'latin1'), 'layer L: offset 0'), (e: Error) => e instanceof BadInputError && e.message.startsWith('layer L'), JSON.stringify(text));
  }
});

test('trailing NUL padding after the last record is tolerated', () => {
  const data = Buffer.concat([records(['path', 'a']), Buffer.alloc(20)]);
  assert.is(parsePaxRecords(data, 'x').length, 1);
});

test('global fields apply under local ones; an empty local value falls back to the ustar field', () => {
  const global = emptyPaxFields();
  applyPaxRecords(global, parsePaxRecords(records(['uid', '7'], ['gid', '8'], ['SCHILY.xattr.user.g', 'G'], ['comment', 'git sha']), 'x'), 'x', true);
  const local = emptyPaxFields();
  applyPaxRecords(local, parsePaxRecords(records(['uid', '9'], ['gid', ''], ['SCHILY.xattr.user.l', 'L']), 'x'), 'x', false);
  const merged = mergePaxFields(global, local);
  assert.is(merged.uid, 9);
  assert.is(merged.gid, undefined, 'empty local gid deletes the global one');
  assert.equal([...merged.xattrs.keys()].sort(), ['user.g', 'user.l']);
});

test('global headers may not set path, linkpath, size or sparse maps', () => {
  for (const key of ['path', 'linkpath', 'size', 'GNU.sparse.map']) {
    assert.throws(() => applyPaxRecords(emptyPaxFields(), parsePaxRecords(records([key, '1']), 'x'), 'x', true), /ambiguous/, key);
  }
});

test.run();
