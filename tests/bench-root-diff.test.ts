/**
 * bench/root-diff.ts, the layer diff behind the Debian benchmark image: new
 * and changed entries with their parents, unchanged ones left out, whiteouts
 * for removed paths (only the top of a removed subtree), none written through
 * a directory the upper root replaced by a symlink, byte order.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diffLayer } from '../bench/root-diff.ts';

function tree(root: string, files: Record<string, string>, links: Record<string, string> = {}): void {
  for (const [path, body] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    if (path.endsWith('/')) mkdirSync(join(root, path), { recursive: true });
    else writeFileSync(join(root, path), body);
  }
  for (const [path, target] of Object.entries(links)) symlinkSync(target, join(root, path));
}

test('new, changed, removed; unchanged left out; parents included; byte order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hb-root-diff-'));
  const [lower, upper, outside] = [join(dir, 'lower'), join(dir, 'upper'), join(dir, 'outside')];
  try {
    mkdirSync(outside);
    const common = { 'etc/same': 'x', 'usr/lib/same.so': 'elf', 'var/a-b': '1' };
    tree(lower, { ...common, 'etc/changed': 'old', 'etc/mode': 'm', 'gone/deep/file': 'g', 'usr/lib/removed.so': 'r', 'was-dir/child': 'c', 'link-changes': '' }, { ln: 'etc/same' });
    tree(upper, { ...common, 'etc/changed': 'new', 'etc/mode': 'm', 'usr/lib/new.so': 'n', 'var/a/b': 'deep', 'link-changes/': '' }, { ln: 'etc/changed', 'was-dir': outside });
    chmodSync(join(upper, 'etc/mode'), 0o600);
    const paths = diffLayer(lower, upper);
    assert.equal(paths, [
      '.wh.gone', 'etc', 'etc/changed', 'etc/mode', 'link-changes', 'ln',
      'usr', 'usr/lib', 'usr/lib/.wh.removed.so', 'usr/lib/new.so', 'var', 'var/a', 'var/a/b', 'was-dir',
    ]);
    assert.ok(existsSync(join(upper, '.wh.gone')));
    assert.ok(existsSync(join(upper, 'usr/lib/.wh.removed.so')));
    assert.not.ok(existsSync(join(outside, '.wh.child')), 'no whiteout written through the symlink that replaced was-dir');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
