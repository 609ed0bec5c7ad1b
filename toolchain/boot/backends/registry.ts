/**
 * The backends by name, so a `--hypervisor NAME` flag (or HYPERBUILD_HYPERVISOR,
 * or a project's `run.hypervisor`) picks one without the CLI knowing any
 * backend. One entry per backend file in this folder; `qemu` is the default.
 */
import { BadInputError } from '../../errors/errors.ts';
import type { Hypervisor } from '../hypervisor.ts';
import { LibvirtHypervisor } from './libvirt.ts';
import { QemuHypervisor } from './qemu.ts';

export const DEFAULT_HYPERVISOR = 'qemu';

/** What a backend may be told when it is picked: `--connect URI` (libvirt's, as virsh spells it). */
export interface BackendOptions { connect?: string }

const BACKENDS: Record<string, (o: BackendOptions) => Hypervisor> = {
  qemu: () => new QemuHypervisor(),
  libvirt: (o) => new LibvirtHypervisor(o.connect),
};

export const HYPERVISOR_NAMES: readonly string[] = Object.keys(BACKENDS);

export function hypervisorByName(name: string = DEFAULT_HYPERVISOR, options: BackendOptions = {}): Hypervisor {
  const make = Object.hasOwn(BACKENDS, name) ? BACKENDS[name] : undefined;
  if (!make) {
    throw new BadInputError(`unknown hypervisor '${name}'`, { hint: `choose one of: ${HYPERVISOR_NAMES.join(', ')}` });
  }
  if (options.connect !== undefined && name !== 'libvirt') {
    throw new BadInputError(`--connect is libvirt's (the ${name} backend has no connection URI)`, { hint: 'add --hypervisor libvirt, or drop --connect' });
  }
  return make(options);
}
