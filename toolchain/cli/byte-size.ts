import { BadInputError } from '../errors/errors.ts';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `2G`, `512MiB`, `100m`, `1073741824`: binary units, as sizes in this field are spelled. */
export function parseByteSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new BadInputError(`${flag} '${text}': expected a size like 512M or 2G`);
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new BadInputError(`${flag} '${text}': out of range`);
  return bytes;
}
