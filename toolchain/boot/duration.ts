/**
 * `--timeout` / `--stop-timeout` values: `10` (seconds, as `docker stop -t`),
 * `500ms`, `30s`, `5m`, `1h`.
 */
import { BadInputError } from '../errors/errors.ts';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function parseDurationMs(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new BadInputError(`${flag} '${text}': expected a duration like 10, 30s, 500ms or 5m`);
  const ms = Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? 's') as keyof typeof UNIT_MS]);
  if (!Number.isFinite(ms) || ms > 2 ** 31 - 1) throw new BadInputError(`${flag} '${text}' is too long`);
  return ms;
}
