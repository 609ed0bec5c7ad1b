import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadInputError, HyperbuildError } from '../toolchain/errors/errors.ts';
import { makeMode } from '../toolchain/cpio/file-mode.ts';
import { NEWC_HEADER_SIZE, decodeNewcHeader, encodeNewcHeader, type CpioHeader } from '../toolchain/cpio/newc-header.ts';

const sample: CpioHeader = {
  ino: 0xabcdef,
  mode: makeMode('file', 0o4755),
  uid: 123456,
  gid: 654321,
  nlink: 3,
  mtime: 1700000000,
  filesize: 0xffffffff,
  devmajor: 8,
  devminor: 1,
  rdevmajor: 0,
  rdevminor: 0,
};

test('encodes 110 bytes of magic + 13 uppercase hex fields, check 0', () => {
  const bytes = encodeNewcHeader(sample, 12, 'x');
  assert.is(bytes.length, NEWC_HEADER_SIZE);
  const text = bytes.toString('latin1');
  assert.is(text.slice(0, 6), '070701');
  assert.is(text.slice(6, 14), '00ABCDEF');
  assert.is(text.slice(14, 22), (0o104755).toString(16).toUpperCase().padStart(8, '0'));
  assert.is(text.slice(22, 30), '0001E240'); // uid 123456
  assert.is(text.slice(54, 62), 'FFFFFFFF'); // filesize, the largest newc can hold
  assert.is(text.slice(94, 102), '0000000C'); // namesize
  assert.is(text.slice(102, 110), '00000000'); // check
  assert.not.match(text, /[a-f]/);
});

test('decode(encode(h)) is h', () => {
  const decoded = decodeNewcHeader(encodeNewcHeader(sample, 12, 'x'), 0, 'test');
  assert.equal(decoded, { ...sample, magic: '070701', namesize: 12, check: 0 });
});

test('decodes lowercase hex and the 070702 magic, as the kernel does', () => {
  const text = encodeNewcHeader(sample, 12, 'x').toString('latin1').toLowerCase().replace(/^070701/, '070702');
  const decoded = decodeNewcHeader(Buffer.from(text, 'latin1'), 0, 'test');
  assert.is(decoded.magic, '070702');
  assert.is(decoded.ino, 0xabcdef);
});

test('a file of 4 GiB is refused with the --rootfs ext4 advice', () => {
  try {
    encodeNewcHeader({ ...sample, filesize: 2 ** 32 }, 12, 'usr/lib/huge.bin');
    assert.unreachable('should throw');
  } catch (error) {
    assert.instance(error, HyperbuildError);
    const message = (error as Error).message;
    assert.match(message, 'usr/lib/huge.bin');
    assert.match(message, 'newc cannot hold files of 4 GiB or more');
    assert.match(message, '--rootfs ext4');
  }
});

test('other fields that do not fit 32 bits, negative or fractional values are refused', () => {
  for (const bad of [{ uid: 2 ** 32 }, { gid: -1 }, { mtime: -5 }, { mtime: 2 ** 33 }, { ino: 1.5 }, { nlink: Number.NaN }]) {
    assert.throws(() => encodeNewcHeader({ ...sample, ...bad }, 12, 'f'), (e: unknown) => e instanceof HyperbuildError);
  }
  assert.throws(() => encodeNewcHeader({ ...sample, mtime: -5 }, 12, 'f'), /SOURCE_DATE_EPOCH|1970/);
});

test('bad magic, malformed hex and short headers are BadInputError naming label and offset', () => {
  const good = encodeNewcHeader(sample, 12, 'x');
  const badMagic = Buffer.concat([Buffer.from('070707'), good.subarray(6)]);
  assert.throws(() => decodeNewcHeader(badMagic, 512, 'initrd.img'), (e: unknown) =>
    e instanceof BadInputError && /initrd\.img/.test((e as Error).message) && /offset 512/.test((e as Error).message));
  const badHex = Buffer.from(good);
  badHex.write('0000000G', 6, 'latin1');
  assert.throws(() => decodeNewcHeader(badHex, 0, 'x'), (e: unknown) => e instanceof BadInputError && /ino/.test((e as Error).message));
  const signed = Buffer.from(good);
  signed.write('-0000001', 6, 'latin1');
  assert.throws(() => decodeNewcHeader(signed, 0, 'x'), (e: unknown) => e instanceof BadInputError);
  assert.throws(() => decodeNewcHeader(good.subarray(0, 100), 0, 'x'), (e: unknown) => e instanceof BadInputError && /truncated/.test((e as Error).message));
});

test.run();
