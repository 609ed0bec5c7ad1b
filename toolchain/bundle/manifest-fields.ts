/**
 * Checked reads of bundle.json's fields, and the one wording of every defect:
 * `LABEL: FIELD must be WHAT, not VALUE` (or `LABEL: FIELD is missing`), each
 * with the same hint. Every consumer (build, boot, push, pull, inspect) meets
 * a bad bundle.json through these, so the same defect reads the same everywhere.
 */
import { BadInputError } from '../errors/errors.ts';
import { isRecord } from '../image/json-document.ts';
import { BUNDLE_MANIFEST_NAME } from './manifest.ts';

export const MANIFEST_HINT = 'rebuild the bundle with hyperbuild build';
const SHA256 = /^sha256:[0-9a-f]{64}$/;
/** Names become paths in the bundle directory: one plain component, nothing that means something to a shell or a path. */
const PLAIN_NAME = /^[A-Za-z0-9._+-]{1,255}$/;
export const PLAIN_NAME_RULE = `a plain file name (1-255 of letters, digits, '.', '_', '+', '-'; not '.', '..' or ${BUNDLE_MANIFEST_NAME})`;

/** A short, printable rendering of a bad value (hostile JSON can be huge). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  return String(v);
}

export function isPlainFileName(name: string): boolean {
  return PLAIN_NAME.test(name) && name !== '.' && name !== '..' && name !== BUNDLE_MANIFEST_NAME;
}

/** One JSON object of bundle.json at `path` (`''` for the top level). */
export class ManifestObject {
  constructor(
    readonly label: string,
    readonly rec: Record<string, unknown>,
    readonly path = '',
  ) {}

  fail(key: string, problem: string, hint = MANIFEST_HINT): never {
    throw new BadInputError(`${this.label}: ${this.field(key)} ${problem}`, { hint });
  }

  field(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.rec[key] !== undefined;
  }

  /** The value at `key`, which must pass `ok`; `what` says what it must be. */
  value<T>(key: string, what: string, ok: (v: unknown) => v is T): T {
    const v = this.rec[key];
    if (v === undefined) this.fail(key, 'is missing');
    if (!ok(v)) this.fail(key, `must be ${what}, not ${describeValue(v)}`);
    return v;
  }

  optional<T>(key: string, read: (key: string) => T): T | undefined {
    return this.has(key) ? read(key) : undefined;
  }

  string(key: string): string {
    return this.value(key, 'a string', (v): v is string => typeof v === 'string');
  }

  bool(key: string): boolean {
    return this.value(key, 'true or false', (v): v is boolean => typeof v === 'boolean');
  }

  /** A size or count: a safe non-negative integer. */
  count(key: string): number {
    return this.value(key, 'a non-negative integer', (v): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0);
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T {
    return this.value(key, `one of ${values.join(', ')}`, (v): v is T => typeof v === 'string' && (values as readonly string[]).includes(v));
  }

  digest(key: string): string {
    return this.value(key, 'a sha256 digest (sha256: and 64 lowercase hex digits)', (v): v is string => typeof v === 'string' && SHA256.test(v));
  }

  fileName(key: string): string {
    return this.value(key, PLAIN_NAME_RULE, (v): v is string => typeof v === 'string' && isPlainFileName(v));
  }

  strings(key: string): string[] {
    const list = this.value(key, 'a list of strings', (v): v is unknown[] => Array.isArray(v));
    list.forEach((s, i) => {
      if (typeof s !== 'string') this.fail(`${key}[${i}]`, `must be a string, not ${describeValue(s)}`);
    });
    return [...(list as string[])];
  }

  stringMap(key: string): Record<string, string> {
    const map = this.value(key, 'an object of strings', isRecord);
    for (const [k, s] of Object.entries(map)) {
      if (typeof s !== 'string') this.fail(`${key}[${JSON.stringify(k.slice(0, 80))}]`, `must be a string, not ${describeValue(s)}`);
    }
    return { ...(map as Record<string, string>) };
  }

  object(key: string): ManifestObject {
    return new ManifestObject(this.label, this.value(key, 'an object', isRecord), this.field(key));
  }
}
