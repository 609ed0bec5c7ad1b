/**
 * The `auto` compression (compress/kinds.ts): lz4 for an archive big enough
 * that lz4 saves the guest more than its unpacker's 8 MiB buffer costs, none
 * below; an explicit choice is kept whatever the size.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AUTO_UNCOMPRESSED_BELOW, COMPRESSIONS, resolveCompression } from '../toolchain/compress/kinds.ts';

test('auto: none below the threshold, lz4 from it on', () => {
  assert.is(resolveCompression('auto', 0), 'none');
  assert.is(resolveCompression('auto', AUTO_UNCOMPRESSED_BELOW - 1), 'none');
  assert.is(resolveCompression('auto', AUTO_UNCOMPRESSED_BELOW), 'lz4');
  assert.is(resolveCompression('auto', 2 * 1024 ** 3), 'lz4');
});

test('an explicit compression is kept for any size', () => {
  for (const c of COMPRESSIONS) {
    assert.is(resolveCompression(c, 1), c);
    assert.is(resolveCompression(c, 10 * AUTO_UNCOMPRESSED_BELOW), c);
  }
});

test.run();
