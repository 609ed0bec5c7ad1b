/**
 * VM templates for supervised VMs (`run -d`): a backend's snapshots may also
 * say how the supervisor (supervisor/, no Node process) starts a clone — the
 * monitor's launch plus what supervisor/restore.c needs to restore it over
 * QMP itself. This is that optional part of PlanSnapshots, and the check for it.
 */
import type { LaunchPlan, PlanSnapshots, SupervisedLaunch } from '../hypervisor.ts';

/** A template clone the supervisor starts: QEMU's launch, then the restore it drives over QMP. */
export interface SupervisedRestore {
  launch: SupervisedLaunch;
  /** The template's saved device state, streamed into QEMU's incoming socket. */
  state: string;
  /** QEMU's QMP socket (the supervisor listens) and its incoming-migration socket (QEMU listens). */
  monitor: string;
  incoming: string;
  /** Port forwards added after the restore, as HMP `hostfwd_add` rules. */
  hostfwd: readonly string[];
}

export interface SupervisedSnapshots extends PlanSnapshots {
  /** Instead of restore(): what the supervisor runs to start the clone of the template in `dir`. */
  supervisedRestore(dir: string): SupervisedRestore;
}

/** The plan's snapshots when the supervisor can start its clones; undefined: such a VM goes cold. */
export function supervisedSnapshots(plan: LaunchPlan): SupervisedSnapshots | undefined {
  const s = plan.snapshots as Partial<SupervisedSnapshots> | undefined;
  return s && typeof s.supervisedRestore === 'function' ? (s as SupervisedSnapshots) : undefined;
}
