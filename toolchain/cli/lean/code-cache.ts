/**
 * Loading the lean CLI's one-file CommonJS bundle (dist/lean/main.js) through a
 * V8 code cache: the bytecode V8 made for it on an earlier run, kept under the
 * cache dir (`code-cache/`), so a start deserialises what the command runs
 * instead of parsing ~1 MB of JavaScript and compiling it function by function.
 * An entry is named by the bundle's path, the command, Node's version, arch and
 * V8 flags (its group) and by the bundle file's identity (device, inode, size,
 * mtime, ctime): a rebuilt bundle or another Node never finds an old entry, and
 * writing one removes the older entries of its group. Its bytes are checked
 * against the SHA-256 stored in front of them before V8 sees them (a release V8
 * checks only its version, the flags and the source length), and it is written
 * atomically after the command ran, so it holds every function the command
 * compiled. A cache that cannot be read or written only costs the compile.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { writeFileAtomicSync } from '../../fs/atomic.ts';

const DIGEST_BYTES = 32;
/** Where entries live under the cache dir. */
export const CODE_CACHE_SUBDIR = 'code-cache';

export interface LoadedBundle {
  /** The bundle's `module.exports`. */
  exports: Record<string, unknown>;
  /** 'used': V8 took the stored entry; 'none': there was none (or it failed its digest); 'rejected': V8 refused it. */
  cache: 'used' | 'none' | 'rejected';
  /** Store the code cache (after the command ran, so it holds what it compiled); nothing when the stored one was used. */
  save(): void;
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest();

/** The entry file for this bundle, command and Node; `group` prefixes every entry that may replace it. */
function entryName(file: string, purpose: string): { group: string; name: string } {
  const st = statSync(file, { bigint: true });
  const group = `${purpose}-${sha256(JSON.stringify([file, process.version, process.arch, process.execArgv])).toString('hex').slice(0, 16)}`;
  const identity = sha256(`${st.dev} ${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`).toString('hex').slice(0, 16);
  return { group, name: `${group}-${identity}.v8` };
}

/** The stored bytecode, if its digest matches. */
function readEntry(path: string): Buffer | undefined {
  let stored: Buffer;
  try {
    stored = readFileSync(path);
  } catch {
    return undefined;
  }
  if (stored.length <= DIGEST_BYTES) return undefined;
  const data = stored.subarray(DIGEST_BYTES);
  return sha256(data).equals(stored.subarray(0, DIGEST_BYTES)) ? data : undefined;
}

/** Write the entry atomically and drop the group's older ones; failures are ignored (the next start compiles again). */
function writeEntry(dir: string, group: string, name: string, data: Buffer): void {
  try {
    mkdirSync(dir, { recursive: true });
    writeFileAtomicSync(join(dir, name), Buffer.concat([sha256(data), data]));
    for (const old of readdirSync(dir)) {
      if (old !== name && old.startsWith(`${group}-`) && old.endsWith('.v8')) rmSync(join(dir, old), { force: true });
    }
  } catch {
    // An unwritable cache dir: run without a code cache.
  }
}

/**
 * Compile and run the CommonJS bundle `file` as `require` would, with the code
 * cache of `purpose` (the command: each keeps the functions it runs) under
 * `cacheDir`, or none when undefined.
 */
export function loadBundle(file: string, cacheDir: string | undefined, purpose: string): LoadedBundle {
  const source = readFileSync(file, 'utf8');
  const entry = cacheDir === undefined ? undefined : { dir: join(cacheDir, CODE_CACHE_SUBDIR), ...entryName(file, purpose) };
  const cachedData = entry && readEntry(join(entry.dir, entry.name));
  // The wrapper keeps the bundle's line numbers (stack traces, the source map).
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  const cache = !cachedData ? 'none' : script.cachedDataRejected ? 'rejected' : 'used';
  const module = { exports: {} as Record<string, unknown> };
  const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return {
    exports: module.exports,
    cache,
    save: () => {
      if (entry && cache !== 'used') writeEntry(entry.dir, entry.group, entry.name, script.createCachedData());
    },
  };
}
