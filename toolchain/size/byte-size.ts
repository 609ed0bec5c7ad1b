/**
 * The one size grammar, for every flag that takes a size (`--max-rootfs-size`,
 * boot's `-m`):
 *
 *   SIZE   := NUMBER [UNIT]            e.g. 2G, 512MiB, 100m, 1.5g, 1073741824
 *   NUMBER := DIGITS ['.' DIGITS]
 *   UNIT   := (k | m | g | t) [i] [b]  |  b        case-insensitive
 *
 * Units are binary (1k = 1024, 1m = 1024², …), as sizes of RAM and
 * filesystems are spelled; `b` alone means bytes. A bare number counts in the
 * caller's unit: bytes for `--max-rootfs-size`, MiB for `-m` (as QEMU's -m).
 */
import { BadInputError } from '../errors/errors.ts';

const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const GRAMMAR = /^(\d+(?:\.\d+)?)\s*(?:([kmgt])i?b?|(b))?$/i;
const HINT = 'a size is a number with an optional binary unit k, m, g or t (1k = 1024), e.g. 512M or 2G';

export interface SizeOptions {
  /** What a bare number counts, in bytes (default 1: bytes). */
  bareUnit?: number;
  /** Return the size in these units, in bytes (default 1); a size that is not a whole number of them is refused. */
  in?: number;
}

/**
 * Parse `text` (the value of `flag`) per the grammar above: a positive count
 * of `opts.in` units (bytes are rounded down), else a BadInputError naming the flag.
 */
export function parseByteSize(text: string, flag: string, opts: SizeOptions = {}): number {
  const m = GRAMMAR.exec(text.trim());
  if (!m) throw new BadInputError(`${flag} '${text}': expected a size like 512M or 2G`, { hint: HINT });
  const unit = m[2] ? UNITS[m[2].toLowerCase()] : m[3] ? 1 : (opts.bareUnit ?? 1);
  const per = opts.in ?? 1;
  const count = per === 1 ? Math.floor(Number(m[1]) * unit) : (Number(m[1]) * unit) / per;
  if (!Number.isInteger(count)) {
    throw new BadInputError(`${flag} '${text}': not a whole number of ${unitName(per)}`, { hint: HINT });
  }
  if (!Number.isSafeInteger(count * per) || count <= 0) throw new BadInputError(`${flag} '${text}': out of range`, { hint: HINT });
  return count;
}

function unitName(bytes: number): string {
  const name = Object.entries(UNITS).find(([, v]) => v === bytes)?.[0];
  return name ? `${name.toUpperCase()}iB` : `${bytes}-byte units`;
}
