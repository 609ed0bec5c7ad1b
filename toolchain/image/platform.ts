/**
 * `os/arch[/variant]` as in `docker pull --platform`. hyperbuild boots
 * x86-64 VMs, so `linux/amd64` is the default, not the host's platform.
 */
import { BadInputError } from '../errors/errors.ts';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export const DEFAULT_PLATFORM = 'linux/amd64';

// Spellings people type (uname -m, Debian) for the GOARCH names images use.
const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm' };

export function parsePlatform(text: string): Platform {
  const parts = text.toLowerCase().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new BadInputError(`invalid platform '${text.slice(0, 100)}'`, { hint: 'write OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8' });
  }
  return normalizePlatform({ os: parts[0]!, architecture: parts[1]!, variant: parts[2] });
}

export function normalizePlatform(p: Platform): Platform {
  const architecture = ARCH_ALIASES[p.architecture] ?? p.architecture;
  // arm64 is v8 unless said otherwise; spelling it out must not stop a match.
  const variant = architecture === 'arm64' && p.variant === 'v8' ? undefined : p.variant || undefined;
  return variant ? { os: p.os, architecture, variant } : { os: p.os, architecture };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** A wanted platform without a variant matches any variant. */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  const c = normalizePlatform(candidate);
  const w = normalizePlatform(wanted);
  return c.os === w.os && c.architecture === w.architecture && (!w.variant || c.variant === w.variant);
}
