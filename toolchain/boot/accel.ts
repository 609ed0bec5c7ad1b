/**
 * Choosing the accelerator. `/dev/kvm` alone proves nothing: on some hosts it is
 * backed by `kvm_pvm` (KVM on a PVM hypervisor), under which ordinary kernels
 * hang. Auto mode therefore uses KVM only with a real hardware module loaded
 * (kvm_intel / kvm_amd) and falls back to TCG otherwise, saying so once.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { HyperbuildError, ExitCode } from '../errors/errors.ts';

export type AccelRequest = 'auto' | 'kvm' | 'tcg' | 'hvf';
export type Accel = 'kvm' | 'tcg' | 'hvf';
export const ACCEL_CHOICES: readonly AccelRequest[] = ['auto', 'kvm', 'tcg', 'hvf'];

/** What the host offers; injectable so the decision is testable without the hardware. */
export interface AccelProbe {
  platform: NodeJS.Platform;
  /** /dev/kvm exists and is read-write for us. */
  kvmDeviceUsable: boolean;
  /** Names of loaded KVM modules, e.g. ['kvm', 'kvm_intel'] or ['kvm', 'kvm_pvm']. */
  kvmModules: string[];
}

const HARDWARE_KVM_MODULES = ['kvm_intel', 'kvm_amd'];

export function probeHost(): AccelProbe {
  let kvmDeviceUsable = false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    kvmDeviceUsable = true;
  } catch {
    kvmDeviceUsable = false;
  }
  const kvmModules = ['kvm', 'kvm_intel', 'kvm_amd', 'kvm_pvm'].filter((m) => existsSync(`/sys/module/${m}`));
  return { platform: process.platform, kvmDeviceUsable, kvmModules };
}

export interface AccelDecision {
  accel: Accel;
  /** One line for stderr when auto mode had to fall back (undefined: nothing to say). */
  notice?: string;
}

/** Why KVM cannot be used here, or undefined when it can. */
function kvmUnusableReason(p: AccelProbe): string | undefined {
  if (p.platform !== 'linux') return `KVM is Linux-only (this host is ${p.platform})`;
  if (!p.kvmDeviceUsable) return '/dev/kvm is missing or not read-write for this user';
  if (!p.kvmModules.some((m) => HARDWARE_KVM_MODULES.includes(m))) {
    const backing = p.kvmModules.filter((m) => m !== 'kvm');
    return `/dev/kvm is not backed by kvm_intel or kvm_amd${backing.length ? ` (found ${backing.join(', ')})` : ''}`;
  }
  return undefined;
}

export function chooseAccel(request: AccelRequest, probe: AccelProbe): AccelDecision {
  switch (request) {
    case 'tcg':
      return { accel: 'tcg' };
    case 'hvf':
      if (probe.platform !== 'darwin') {
        throw new HyperbuildError(`--accel hvf needs macOS (this host is ${probe.platform})`, {
          hint: 'use --accel auto', exitCode: ExitCode.usage,
        });
      }
      return { accel: 'hvf' };
    case 'kvm': {
      const why = kvmUnusableReason(probe);
      if (why) {
        throw new HyperbuildError(`--accel kvm: KVM is not usable: ${why}`, {
          hint: 'load kvm_intel or kvm_amd and make /dev/kvm read-write for you, or use --accel tcg (slower)',
          exitCode: ExitCode.vmFailure,
        });
      }
      return { accel: 'kvm' };
    }
    case 'auto': {
      if (probe.platform === 'darwin') return { accel: 'hvf' };
      const why = kvmUnusableReason(probe);
      if (!why) return { accel: 'kvm' };
      return { accel: 'tcg', notice: `hyperbuild: notice: ${why}; using TCG emulation (slower)` };
    }
  }
}
