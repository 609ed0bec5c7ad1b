import * as assert from 'uvu/assert';
import { BadInputError } from '../../toolchain/errors/errors.ts';

/** `fn` must fail with a BadInputError whose message matches `re` (hostile-input tests). */
export async function rejectsBadInput(fn: () => unknown, re: RegExp): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, BadInputError);
    assert.match((err as Error).message, re);
    return;
  }
  assert.unreachable(`expected a BadInputError matching ${re}`);
}
