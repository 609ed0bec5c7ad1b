/**
 * The guest kernel command line: the bundle's own (rdinit=..., module options)
 * plus what the boot environment needs. Backend-neutral: every backend gives the
 * guest a 16550 UART as ttyS0 for diagnostics.
 */
export interface CmdlineOptions {
  verbose: boolean;
  /** Set when the guest has no PIT/HPET to calibrate its TSC against (microvm under TCG). */
  tscKhz?: number;
}

export function composeCmdline(bundleCmdline: string, o: CmdlineOptions): string {
  const words = bundleCmdline.split(/\s+/).filter((w) => w && !(o.verbose && w === 'quiet'));
  const has = (prefix: string) => words.some((w) => w === prefix || w.startsWith(`${prefix}=`));
  // panic=-1 + the monitor's no-reboot: a guest panic ends the VM at once instead of hanging.
  if (!has('console')) words.push('console=ttyS0');
  if (!has('panic')) words.push('panic=-1');
  if (!o.verbose && !has('quiet')) words.push('quiet');
  if (o.tscKhz && !has('tsc_early_khz')) words.push(`tsc_early_khz=${o.tscKhz}`);
  // Under emulation jiffies lag, not the TSC (it is the host's); without this the clocksource
  // watchdog declares the TSC unstable and the guest falls back to coarse jiffies.
  if (o.tscKhz && !has('tsc')) words.push('tsc=reliable');
  return words.join(' ');
}
