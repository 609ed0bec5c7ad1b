/**
 * Damaged VM templates for the fallback tests (boot and run -d): a state
 * file with other bytes of the same size, as a disk error or a stray write
 * leaves it, and the same damage re-recorded in template.json, so the
 * template passes its digest check and fails only when QEMU restores it.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Same size, other bytes. */
export function corrupt(file: string): void {
  const data = readFileSync(file);
  for (let i = 64; i < data.length; i += 512) data[i] ^= 0xff;
  writeFileSync(file, data);
}

/** Corrupt the template's device state and record the new digest, as if it had been saved that way (e.g. by another QEMU build). */
export function makeStale(templateDir: string): void {
  const state = join(templateDir, 'state');
  corrupt(state);
  const record = JSON.parse(readFileSync(join(templateDir, 'template.json'), 'utf8'));
  record.files.state.digest = `sha256:${createHash('sha256').update(readFileSync(state)).digest('hex')}`;
  writeFileSync(join(templateDir, 'template.json'), JSON.stringify(record));
}
