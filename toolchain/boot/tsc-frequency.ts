/**
 * The host TSC frequency in kHz. Under TCG on `microvm` there is no PIT to
 * calibrate against, so the guest kernel is told the rate (`tsc_early_khz=`)
 * or it can hang calibrating its timer. Under TCG the guest reads the host TSC,
 * so the host's rate is the right one.
 */
import { readFileSync } from 'node:fs';

export interface TscSources {
  /** Contents of /sys/devices/system/cpu/cpu0/tsc_freq_khz, exact when the kernel exposes it. */
  sysfsKhz?: string;
  /** Contents of /proc/cpuinfo; `cpu MHz` is close enough (the guest only needs a start value). */
  cpuinfo?: string;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function readTscSources(): TscSources {
  return {
    sysfsKhz: readOrUndefined('/sys/devices/system/cpu/cpu0/tsc_freq_khz'),
    cpuinfo: readOrUndefined('/proc/cpuinfo'),
  };
}

export function tscKhz(sources: TscSources = readTscSources()): number | undefined {
  const sys = Number.parseInt(sources.sysfsKhz?.trim() ?? '', 10);
  if (Number.isFinite(sys) && sys > 0) return sys;
  const m = /^cpu MHz\s*:\s*([0-9.]+)/m.exec(sources.cpuinfo ?? '');
  if (m) {
    const khz = Math.round(Number(m[1]) * 1000);
    if (khz > 0) return khz;
  }
  return undefined;
}
