/**
 * GNU tar (and getfattr, sha256) as the reference the tar tests compare against:
 * run a tool for its bytes, read xattrs byte-exact, hash files.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Runs GNU tar (or any tool) and returns stdout as bytes; throws with stderr on failure. */
export function run(command: string, args: string[], options: { cwd?: string; input?: Buffer } = {}): Buffer {
  return execFileSync(command, args, {
    cwd: options.cwd,
    input: options.input,
    maxBuffer: 1 << 30,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/**
 * All xattrs of a path (a byte string), via `getfattr -e hex` so values are byte-exact.
 * Names are returned as latin1 byte strings, like TarEntry.xattrs keys.
 */
export function getfattrHex(path: string): Map<string, Buffer> {
  // The path goes through stdin (latin1 = raw bytes): argv would re-encode it as UTF-8.
  const out = run('xargs', ['-0', 'getfattr', '--absolute-names', '-h', '-d', '-m', '-', '-e', 'hex'], {
    input: Buffer.from(`${path}\0`, 'latin1'),
  }).toString('latin1');
  const xattrs = new Map<string, Buffer>();
  for (const line of out.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq === -1) {
      xattrs.set(line, Buffer.alloc(0));
      continue;
    }
    const value = line.slice(eq + 1);
    if (!value.startsWith('0x')) throw new Error(`getfattr printed a non-hex value: ${line}`);
    xattrs.set(line.slice(0, eq), Buffer.from(value.slice(2), 'hex'));
  }
  return xattrs;
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function hasTool(name: string): boolean {
  try {
    run('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}
