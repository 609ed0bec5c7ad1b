/**
 * The image config's runtime fields checked against the OCI image spec
 * (config.md) before they reach bundle.json and the guest: each refusal
 * names the field's JSON path (`config.User`) and what form it must have.
 * What the spec allows stays allowed: User as user, uid, user:group,
 * uid:gid, uid:group or user:gid; ExposedPorts keys `port/tcp`, `port/udp`
 * or `port` (and Docker's `port/sctp`); Env entries `NAME=VALUE`.
 */
import { BadInputError } from '../errors/errors.ts';
import { isRecord } from './json-document.ts';

const HINT = 'fix the field in the image (Dockerfile USER, WORKDIR, EXPOSE, ENV, ENTRYPOINT, CMD, VOLUME) and rebuild it';
/** uid_t/gid_t, less (uid_t)-1, which means "no change". */
const MAX_ID = 0xffff_fffe;

function refuse(where: string, field: string, value: unknown, rule: string): never {
  const shown = JSON.stringify(value)?.slice(0, 120) ?? String(value);
  throw new BadInputError(`${where}: config.${field} ${shown} ${rule}`, { hint: HINT });
}

function noNul(where: string, field: string, s: string): string {
  if (s.includes('\0')) refuse(where, field, s, 'contains a NUL byte, which no process argument, name or path can hold');
  return s;
}

/** An array of strings (absent or null: empty). */
export function stringList(v: unknown, where: string, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) refuse(where, field, v, 'must be an array of strings');
  return (v as string[]).map((s, i) => noNul(where, `${field}[${i}]`, s));
}

/** A string (absent or null: ''). */
export function optionalString(v: unknown, where: string, field: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') refuse(where, field, v, 'must be a string');
  return noNul(where, field, v);
}

/** One side of User: a number in uid_t's range, or a name (no ':' and no space or control characters, not starting with '-'). */
function userPart(part: string): boolean {
  if (/^\d+$/.test(part)) return Number(part) <= MAX_ID;
  return /^[^\s:\-\x00-\x1f\x7f][^\s:\x00-\x1f\x7f]*$/.test(part);
}

export function checkUser(user: string, where: string): string {
  if (user === '') return user;
  const parts = user.split(':');
  if (parts.length > 2 || !parts.every(userPart)) refuse(where, 'User', user, `is not user, uid, user:group or uid:gid (ids 0 to ${MAX_ID})`);
  return user;
}

/** WorkingDir is absolute (the runtime spec's cwd MUST be); '' means the runtime's default, /. */
export function checkWorkingDir(dir: string, where: string): string {
  if (dir !== '' && !dir.startsWith('/')) refuse(where, 'WorkingDir', dir, 'must be an absolute path');
  return dir;
}

/** Keys of an object-valued field (ExposedPorts, Volumes), sorted; absent or null: none. */
function objectKeys(v: unknown, where: string, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!isRecord(v)) refuse(where, field, v, 'must be an object whose keys are the entries');
  return Object.keys(v).sort();
}

export function checkExposedPorts(v: unknown, where: string): string[] {
  return objectKeys(v, where, 'ExposedPorts').map((key) => {
    const m = /^(\d{1,5})(?:\/(tcp|udp|sctp))?$/.exec(key);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) refuse(where, 'ExposedPorts', key, 'is not port/tcp, port/udp or port, with a port from 1 to 65535');
    return key;
  });
}

export function checkVolumes(v: unknown, where: string): string[] {
  return objectKeys(v, where, 'Volumes').map((key) => {
    if (!key.startsWith('/')) refuse(where, 'Volumes', key, 'must be an absolute path');
    return noNul(where, 'Volumes', key);
  });
}

export function checkEnv(env: string[], where: string): string[] {
  env.forEach((entry, i) => {
    if (!/^[^=]+=/.test(entry)) refuse(where, `Env[${i}]`, entry, 'is not NAME=VALUE');
  });
  return env;
}

/** Labels: an object of strings. */
export function checkLabels(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isRecord(v)) refuse(where, 'Labels', v, 'must be an object of strings');
  for (const [k, value] of Object.entries(v)) if (typeof value !== 'string') refuse(where, `Labels[${JSON.stringify(k)}]`, value, 'must be a string');
  return v as Record<string, string>;
}
