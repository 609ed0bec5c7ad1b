/**
 * Where tests find the repository and put scratch files: the checkout's root,
 * the built fixture images, and private temp directories that are removed
 * when the test process exits (set HYPERBUILD_KEEP_TEST_DIRS=1 to keep them
 * for a post-mortem).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root directory (no trailing slash). */
export const REPO = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
/** Fixture images made by `make fixtures`. */
export const FIXTURES = join(REPO, 'fixtures', 'out');

const made: string[] = [];
process.on('exit', () => {
  if (process.env.HYPERBUILD_KEEP_TEST_DIRS) return;
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Something a test made unremovable (a read-only tree): leave it to the OS's tmp cleaning.
    }
  }
});

/** A new private (0700) directory `$TMPDIR/hb-PREFIX-XXXXXX`, removed at exit. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `hb-${prefix}-`));
  made.push(dir);
  return dir;
}
