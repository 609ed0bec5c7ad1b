/**
 * toolchain/size/byte-size.ts: the one size grammar behind --max-rootfs-size
 * and boot's -m (binary units, a bare number in the caller's unit, exact
 * counts), and its refusals.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseByteSize } from '../toolchain/size/byte-size.ts';
import { parseMemory } from '../toolchain/boot/memory.ts';
import { rejectsBadInput } from './helpers/bad-input.ts';

const MiB = 1024 ** 2;

test('units are binary and case-insensitive, with optional i and b', () => {
  assert.is(parseByteSize('1073741824', '--f'), 1024 ** 3);
  assert.is(parseByteSize('2G', '--f'), 2 * 1024 ** 3);
  for (const spelling of ['512m', '512M', '512MB', '512MiB', '512Mi', '512 mib']) assert.is(parseByteSize(spelling, '--f'), 512 * MiB, spelling);
  assert.is(parseByteSize('4k', '--f'), 4096);
  assert.is(parseByteSize('1t', '--f'), 1024 ** 4);
  assert.is(parseByteSize('100b', '--f'), 100);
  assert.is(parseByteSize('1.5g', '--f'), 1536 * MiB);
  assert.is(parseByteSize('1.5', '--f'), 1, 'bytes round down');
});

test('a bare number counts in the caller unit; results in the caller unit must be whole', async () => {
  assert.is(parseByteSize('256', '-m', { bareUnit: MiB, in: MiB }), 256);
  assert.is(parseByteSize('1G', '-m', { bareUnit: MiB, in: MiB }), 1024);
  assert.is(parseByteSize('300b', '-m', { bareUnit: MiB }), 300, 'an explicit b is bytes even when bare numbers are MiB');
  await rejectsBadInput(() => parseByteSize('16.5m', '-m', { in: MiB }), /^-m '16\.5m': not a whole number of MiB$/);
});

test('refusals name the flag and the text', async () => {
  for (const bad of ['lots', '', '2x', '-1G', '1..5G', '2 G B', '1ib']) {
    await rejectsBadInput(() => parseByteSize(bad, '--max-rootfs-size'), new RegExp(`^--max-rootfs-size '${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}': expected a size like 512M or 2G$`));
  }
  await rejectsBadInput(() => parseByteSize('0', '--f'), /^--f '0': out of range$/);
  await rejectsBadInput(() => parseByteSize('99999999t', '--f'), /out of range/);
});

test('boot -m uses the same grammar, then its own range', async () => {
  assert.is(parseMemory('256'), 256);
  assert.is(parseMemory('2GiB'), 2048);
  assert.is(parseMemory('1.5g'), 1536);
  await rejectsBadInput(() => parseMemory('8m'), /^--memory '8m': must be between/);
  await rejectsBadInput(() => parseMemory('lots'), /^--memory 'lots': expected a size like/);
});

test.run();
