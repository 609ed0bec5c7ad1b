/**
 * The backends by name, so a `--hypervisor NAME` flag (or an environment
 * setting) picks one without the CLI knowing any backend. One entry per file in
 * this folder; `qemu` is the default.
 */
import { BadInputError } from '../../errors/errors.ts';
import type { Hypervisor } from '../hypervisor.ts';
import { QemuHypervisor } from './qemu.ts';

export const DEFAULT_HYPERVISOR = 'qemu';

const BACKENDS: Record<string, () => Hypervisor> = {
  qemu: () => new QemuHypervisor(),
};

export const HYPERVISOR_NAMES: readonly string[] = Object.keys(BACKENDS);

export function hypervisorByName(name: string = DEFAULT_HYPERVISOR): Hypervisor {
  const make = Object.hasOwn(BACKENDS, name) ? BACKENDS[name] : undefined;
  if (!make) {
    throw new BadInputError(`unknown hypervisor '${name}'`, { hint: `choose one of: ${HYPERVISOR_NAMES.join(', ')}` });
  }
  return make();
}
