import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BadInputError } from '../toolchain/errors/errors.ts';
import { makeMode } from '../toolchain/cpio/file-mode.ts';
import type { CpioHeader } from '../toolchain/cpio/newc-header.ts';
import { readNewc } from '../toolchain/cpio/newc-reader.ts';
import { writeNewc, type NewcEntry } from '../toolchain/cpio/newc-writer.ts';

function file(name: string, content: string, ino: number): NewcEntry {
  const header: CpioHeader = {
    ino, mode: makeMode('file', 0o644), uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: Buffer.byteLength(content),
    devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0,
  };
  return { header, name, body: [Buffer.from(content)] };
}

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

async function* from(buf: Buffer, step = 5): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += step) yield buf.subarray(i, i + step);
}

async function names(buf: Buffer, readBodies = true): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of readNewc(from(buf), 'initrd.img')) {
    out.push(entry.name);
    if (readBodies) await collect(entry.body);
  }
  return out;
}

async function expectBadInput(buf: Buffer, pattern: RegExp): Promise<void> {
  try {
    await names(buf);
  } catch (error) {
    assert.instance(error, BadInputError);
    assert.match((error as Error).message, /^initrd\.img: /);
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected BadInputError matching ${pattern}`);
}

const archive = await collect(writeNewc([file('a', 'hello', 1), file('bb', 'x', 2), file('ccc', '', 3)]));

test('unread bodies are skipped', async () => {
  assert.equal(await names(archive, false), ['a', 'bb', 'ccc']);
});

test('partly read bodies are skipped', async () => {
  const got: string[] = [];
  for await (const entry of readNewc(from(archive, 1), 'x')) {
    got.push(entry.name);
    for await (const _ of entry.body) break;
  }
  assert.equal(got, ['a', 'bb', 'ccc']);
});

test('concatenated archives with zero padding between them are read like the kernel does', async () => {
  const second = await collect(writeNewc([file('d', 'second', 4)]));
  assert.equal(await names(Buffer.concat([archive, Buffer.alloc(1024), second])), ['a', 'bb', 'ccc', 'd']);
});

test('bad magic is a BadInputError with the offset', async () => {
  await expectBadInput(Buffer.concat([Buffer.from('070707'), archive.subarray(6)]), /offset 0.*070701/);
  await expectBadInput(Buffer.from('PK\x03\x04 this is a zip file, not a cpio archive at all'.padEnd(200, '.')), /not a newc cpio header/);
});

test('truncation anywhere is a BadInputError', async () => {
  // End of first header, inside the name, inside the data, before the trailer.
  await expectBadInput(archive.subarray(0, 50), /truncated inside a header/);
  await expectBadInput(archive.subarray(0, 111), /truncated inside the name/);
  await expectBadInput(archive.subarray(0, 116), /truncated inside the data of "a"/);
  const trailerAt = archive.indexOf('TRAILER!!!') - 110;
  await expectBadInput(archive.subarray(0, trailerAt), /without a TRAILER!!!/);
  await expectBadInput(Buffer.alloc(0), /without a TRAILER!!!/);
});

test('hostile name sizes and names without their NUL are refused', async () => {
  const huge = Buffer.from(archive);
  huge.write('7FFFFFFF', 94, 'latin1');
  await expectBadInput(huge, /name size 2147483647/);
  const zero = Buffer.from(archive);
  zero.write('00000000', 94, 'latin1');
  await expectBadInput(zero, /name size 0/);
  const noNul = Buffer.from(archive);
  noNul[111] = 0x41; // "a\0" becomes "aA"
  await expectBadInput(noNul, /not a NUL-terminated/);
});

test('garbage after the trailer is refused', async () => {
  await expectBadInput(Buffer.concat([archive, Buffer.from('junk')]), /not a newc cpio header/);
});

test.run();
