import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadInputError } from '../toolchain/errors/errors.ts';
import {
  checksumMatches,
  computeChecksum,
  decodeHeader,
  detectFormat,
  NumericFieldError,
  parseNumericField,
} from '../toolchain/tar/header.ts';
import { encodeTar } from '../toolchain/tar/writer.ts';

const field = (text: string): Buffer => Buffer.from(text, 'latin1');

test('octal fields: NUL, space and unterminated padding', () => {
  assert.is(parseNumericField(field('0000644\0')), 0o644);
  assert.is(parseNumericField(field('   644 \0')), 0o644);
  assert.is(parseNumericField(field('00000000644')), 0o644);
  assert.is(parseNumericField(field('77777777777 ')), 0o77777777777);
  assert.is(parseNumericField(Buffer.alloc(8)), 0, 'all-NUL field is zero (v7 devmajor)');
  assert.is(parseNumericField(field('        ')), 0);
});

test('octal fields: junk is an error, not a partial number', () => {
  assert.throws(() => parseNumericField(field('0006x4\0')), (e: Error) => e instanceof NumericFieldError);
  assert.throws(() => parseNumericField(field('12 34\0\0\0')), (e: Error) => e instanceof NumericFieldError);
  assert.throws(() => parseNumericField(field('0000089\0')), (e: Error) => e instanceof NumericFieldError);
});

test('base-256 fields: positive, large, negative', () => {
  const positive = Buffer.alloc(12);
  positive[0] = 0x80;
  positive.writeUIntBE(9 * 1024 ** 3, 6, 6);
  assert.is(parseNumericField(positive), 9 * 1024 ** 3);

  const uid = Buffer.from([0x80, 0, 0, 0, 0, 0x2d, 0xc6, 0xc0]);
  assert.is(parseNumericField(uid), 3_000_000);

  assert.is(parseNumericField(Buffer.alloc(12, 0xff)), -1);
  const minus100 = Buffer.alloc(12, 0xff);
  minus100[11] = 0x9c; // ...ff9c is -100 in two's complement
  assert.is(parseNumericField(minus100), -100);

  // Low bits of the first byte belong to the number (as GNU tar and Go read it).
  const firstByteBits = Buffer.from([0x81, 0, 0, 0]);
  assert.is(parseNumericField(firstByteBits), 2 ** 24);
});

test('base-256 fields beyond 2^53 are refused rather than rounded', () => {
  const huge = Buffer.alloc(12);
  huge[0] = 0x80;
  huge[4] = 0x01; // 2^56
  assert.throws(() => parseNumericField(huge), (e: Error) => e instanceof NumericFieldError);
  const hugeNegative = Buffer.alloc(12, 0xff);
  hugeNegative[4] = 0x00;
  assert.throws(() => parseNumericField(hugeNegative), (e: Error) => e instanceof NumericFieldError);
});

function headerBlock(): Buffer {
  return encodeTar([{ entry: { path: 'f', type: 'file' } }], { end: false }).subarray(0, 512);
}

test('checksum: unsigned sum accepted, any changed byte detected', () => {
  const block = Buffer.from(headerBlock());
  assert.ok(checksumMatches(block));
  block[3] = 0x41;
  assert.not.ok(checksumMatches(block));
});

test('checksum: historic signed-char sums accepted', () => {
  const block = Buffer.from(headerBlock());
  block[1] = 0xe9; // a byte >= 0x80 makes the signed and unsigned sums differ
  const unsigned = computeChecksum(block);
  const signed = unsigned - 256;
  block.write(`${signed.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  assert.ok(checksumMatches(block), 'signed sum');
  block.write(`${unsigned.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  assert.ok(checksumMatches(block), 'unsigned sum');
  block.write(`${(unsigned + 1).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  assert.not.ok(checksumMatches(block));
});

test('checksum mismatch is a BadInputError naming where', () => {
  const block = Buffer.from(headerBlock());
  block[0] = 0x67;
  try {
    decodeHeader(block, 'layer sha256:ab: offset 1536');
    assert.unreachable();
  } catch (error) {
    assert.instance(error, BadInputError);
    assert.match((error as Error).message, /^layer sha256:ab: offset 1536: tar header checksum mismatch/);
  }
});

test('magic: POSIX ustar, old GNU, v7', () => {
  const block = Buffer.from(headerBlock());
  assert.is(detectFormat(block), 'ustar');
  block.write('ustar  \0', 257, 'latin1');
  assert.is(detectFormat(block), 'gnu');
  block.fill(0, 257, 265);
  assert.is(detectFormat(block), 'v7');
});

test('ustar prefix is joined with a slash; GNU and v7 ignore the prefix area', () => {
  const block = Buffer.from(headerBlock());
  block.write('some/prefix', 345, 'latin1');
  const fix = (b: Buffer): Buffer => {
    b.write(`${computeChecksum(b).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    return b;
  };
  assert.is(decodeHeader(fix(block), 'x').path, 'some/prefix/f');
  block.write('ustar  \0', 257, 'latin1');
  assert.is(decodeHeader(fix(block), 'x').path, 'f');
});

test('mode keeps setuid/setgid/sticky and drops file-type bits', () => {
  const block = Buffer.from(headerBlock());
  block.write('0107755\0', 100, 'latin1');
  block.write(`${computeChecksum(block).toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  assert.is(decodeHeader(block, 'x').mode, 0o7755);
});

test.run();
