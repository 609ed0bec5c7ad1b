/**
 * VM names and IDs, as docker has them: an ID is 64 random hex digits (shown
 * as its first 12), a name matches [a-zA-Z0-9][a-zA-Z0-9_.-]* and is unique
 * on this host (a `names/NAME` symlink to the VM's directory, made with
 * symlink(2), so two runs asking for the same name cannot both get it). A
 * VM is found by its name, its ID or any unique ID prefix; an unknown one is
 * refused with the closest existing name or ID.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readlinkSync, symlinkSync, unlinkSync, existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BadInputError } from '../errors/errors.ts';
import { nameLink, SHORT_ID_LENGTH, vmDir } from './state-dir.ts';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export function newId(): string {
  return randomBytes(32).toString('hex');
}

export const shortId = (id: string) => id.slice(0, SHORT_ID_LENGTH);

export function assertValidName(name: string): void {
  if (!NAME.test(name) || /^[0-9a-f]{12,64}$/.test(name)) {
    throw new BadInputError(`--name '${name}' is not a valid VM name`, {
      hint: 'use letters, digits, _ . - (at most 64, starting with a letter or digit, not an ID-like hex string)',
    });
  }
}

/** `hello-3fa2c1`: the bundle directory's name (cleaned) and the ID's first digits. */
export function defaultName(bundleDir: string, id: string): string {
  const base = basename(bundleDir).replace(/[^a-zA-Z0-9_.-]/g, '-').replace(/^[^a-zA-Z0-9]+/, '').slice(0, 40) || 'vm';
  return `${base}-${id.slice(0, 6)}`;
}

/** Claim `name` for the VM with `id`; refused when another VM has it. A link to a removed VM is reclaimed. */
export function claimName(root: string, name: string, id: string): void {
  const link = nameLink(root, name);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      symlinkSync(`../${shortId(id)}`, link);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readlinkSync(link);
    if (existsSync(join(root, 'names', owner))) {
      throw new BadInputError(`the name '${name}' is already in use by VM ${basename(owner)}`, {
        hint: `choose another --name, or remove that VM: hyperbuild rm -f ${name}`,
      });
    }
    try { unlinkSync(link); } catch { /* reclaimed by another run first */ }
  }
  throw new BadInputError(`the name '${name}' is being claimed by another run`, { hint: 'choose another --name' });
}

/** Drop the name, only if it still names this VM. */
export function releaseName(root: string, name: string, id: string): void {
  const link = nameLink(root, name);
  try {
    if (readlinkSync(link) === `../${shortId(id)}`) unlinkSync(link);
  } catch { /* already gone */ }
}

export interface VmRef {
  shortId: string;
  dir: string;
  /** The name, when the lookup went through one. */
  name?: string;
}

/** Every VM directory under the root, by short ID. */
export function vmShortIds(root: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  return entries.filter((e) => new RegExp(`^[0-9a-f]{${SHORT_ID_LENGTH}}$`).test(e)).sort();
}

export function vmNames(root: string): Map<string, string> {
  const names = new Map<string, string>();
  let entries: string[] = [];
  try { entries = readdirSync(join(root, 'names')); } catch { /* none yet */ }
  for (const n of entries) {
    try { names.set(n, basename(readlinkSync(join(root, 'names', n)))); } catch { /* removed meanwhile */ }
  }
  return names;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/** The existing name or short ID nearest to `ref`, for the error message. */
export function closestMatch(ref: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(ref, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

/** Find a VM by name, ID or unique ID prefix; BadInputError (exit 2) with the closest match otherwise. */
export function resolveVm(root: string, ref: string): VmRef {
  const names = vmNames(root);
  const ids = vmShortIds(root);
  const byName = names.get(ref);
  if (byName && ids.includes(byName)) return { shortId: byName, dir: vmDir(root, byName), name: ref };
  const prefix = ref.toLowerCase().slice(0, SHORT_ID_LENGTH);
  const hits = /^[0-9a-f]+$/.test(ref.toLowerCase()) ? ids.filter((id) => id.startsWith(prefix)) : [];
  if (hits.length === 1) return { shortId: hits[0], dir: vmDir(root, hits[0]) };
  if (hits.length > 1) {
    throw new BadInputError(`'${ref}' matches ${hits.length} VMs (${hits.join(', ')})`, { hint: 'give more digits of the ID, or the name' });
  }
  const near = closestMatch(ref, [...names.keys(), ...ids]);
  throw new BadInputError(`no VM named or with ID '${ref}'`, {
    hint: near ? `did you mean '${near}'? (hyperbuild ps -a lists them)` : 'there are no VMs (hyperbuild ps -a lists them)',
  });
}
