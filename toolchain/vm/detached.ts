/**
 * `run -d`: the same checks as boot (preflight.ts) and the backend's plan,
 * then instead of starting the VM here, the supervisor (supervisor.ts) is
 * given the plan's supervised launch and owns the VM from then on. Like boot,
 * it starts from the bundle's VM template when it can (template/warm-start.ts:
 * the same key, made on first use, `--no-template` goes cold): the supervisor
 * then restores the clone over QMP itself (supervisor/restore.c), and a clone
 * it cannot restore is started again cold in the same directory, after the
 * one-line notice. Returns once the app runs (the supervisor's first report),
 * or once the VM ended before that; no hyperbuild process stays.
 */
import { join, resolve } from 'node:path';
import { bootableKernel } from '../bundle/bootable-kernel.ts';
import { openBundleToBoot } from '../bundle/open-bundle.ts';
import { sha256Digest } from '../digest/digest.ts';
import { BadInputError, ExitCode, HyperbuildError } from '../errors/errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { encodeSpec, HYPERSTART_VERSION } from '../hyperstart/protocol.ts';
import { preflight } from '../boot/preflight.ts';
import type { LaunchPlan, SupervisedLaunch } from '../boot/hypervisor.ts';
import type { BootOptions } from '../boot/session.ts';
import { supervisedSnapshots, type SupervisedRestore } from '../boot/template/supervised-restore.ts';
import { templateFor } from '../boot/template/warm-start.ts';
import { channelEndpoints, createVm, discardVm, type NewVm } from './create.ts';
import { VM_CONFIG_VERSION, writeConfig, type VmConfig } from './records.ts';
import { startSupervisor, type StartReport, type SupervisorReport } from './supervisor.ts';
import { ensureStateRoot, VM_FILES } from './state-dir.ts';

export interface DetachedRequest {
  boot: BootOptions;
  /** What the user named (a path or a reference), for `ps`. */
  target: string;
  temporaryBundle?: string;
  name?: string;
  autoRemove: boolean;
  logMaxBytes: number;
  say: (line: string) => void;
}

export interface Detached {
  vm: NewVm;
  report: StartReport;
  /** Started from a VM template. */
  restored: boolean;
}

type Start = (launch: SupervisedLaunch, restore?: Omit<SupervisedRestore, 'launch'>) => Promise<SupervisorReport | undefined>;

/**
 * The supervisor started on a clone of the bundle's VM template (made first when there is none);
 * undefined when this VM goes cold: no template (after a notice, when that is news), or one the
 * supervisor could not restore (then it is removed, and the notice says so).
 */
async function startWarm(plan: LaunchPlan, r: DetachedRequest, manifestBytes: Buffer, start: Start): Promise<{ report?: StartReport } | undefined> {
  const o = r.boot;
  const snapshots = supervisedSnapshots(plan);
  if (!o.cacheDir || !snapshots) return undefined;
  const { template } = await templateFor(plan, {
    cacheDir: o.cacheDir, bundleDigest: sha256Digest(manifestBytes), useTemplate: o.template !== false,
    say: r.say, note: (line) => { if (o.verbose) r.say(line); },
  });
  if (!template) return undefined;
  const { launch, ...restore } = snapshots.supervisedRestore(template.dir);
  if (o.verbose) r.say(`hyperbuild: ${snapshots.describeRestore(template.dir)}`);
  const report = await start(launch, restore);
  if (report?.state !== 'restore-failed') {
    await template.touch();
    return { report };
  }
  await template.notUsed(`restoring it failed: ${report.message}`);
  return undefined;
}

export function portsOf(o: BootOptions): string[] {
  return o.publish.map((p) => `${p.hostIp}:${p.hostPort}->${p.guestPort}/${p.protocol}`);
}

function configOf(r: DetachedRequest, vm: NewVm, command: string[], mode: VmConfig['mode']): VmConfig {
  return {
    schemaVersion: VM_CONFIG_VERSION, id: vm.id, name: vm.name, bundle: resolve(r.boot.bundleDir), target: r.target,
    temporaryBundle: r.temporaryBundle, created: new Date().toISOString(), command, ports: portsOf(r.boot),
    mode, autoRemove: r.autoRemove, tty: !!r.boot.overrides.tty, hypervisor: r.boot.hypervisor.name,
  };
}

export { configOf };

export async function runDetached(request: DetachedRequest): Promise<Detached> {
  // The supervisor runs in the VM's directory: every path it is given is absolute.
  const r = { ...request, boot: { ...request.boot, bundleDir: resolve(request.boot.bundleDir) } };
  const o = r.boot;
  const hv = o.hypervisor;
  if (hv.capabilities.detach !== 'supervisor') {
    throw new BadInputError(`the ${hv.name} backend cannot run a VM detached (-d)`, { hint: 'run it in the foreground (without -d)' });
  }
  const root = ensureStateRoot();
  const bundle = await openBundleToBoot(o.bundleDir, o.cacheDir);
  const ready = await preflight(bundle.manifest, o, r.say);
  const vm = createVm(root, o.bundleDir, r.name);
  let report: SupervisorReport | undefined;
  let restored = false;
  try {
    const plan = await hv.prepare({
      bundleDir: o.bundleDir, manifest: bundle.manifest, accel: ready.accel, memoryMiB: ready.memoryMiB, cpus: o.cpus,
      kernelPath: await bootableKernel(bundle, o.cacheDir),
      network: o.overrides.network, publish: o.publish, volumes: o.overrides.volumes,
      verbose: false, channels: channelEndpoints(vm.dir), cacheDir: o.cacheDir,
    });
    await writeFileAtomic(join(vm.dir, VM_FILES.spec), encodeSpec(ready.spec), { mode: 0o600 });
    await writeConfig(vm.dir, configOf(r, vm, ready.spec.args, 'supervisor'));
    const start: Start = (launch, restore) => startSupervisor({
      dir: vm.dir, version: HYPERSTART_VERSION, logMaxBytes: r.logMaxBytes, timeoutMs: o.timeoutMs,
      tty: o.overrides.tty, autoRemove: r.autoRemove, nameLink: vm.nameLink, launch, restore,
    });
    const warm = await startWarm(plan, r, bundle.manifestBytes, start);
    if (warm) {
      report = warm.report;
      restored = true;
    } else {
      const launch = plan.supervised?.();
      if (!launch) throw new HyperbuildError(`the ${hv.name} plan has no supervised launch`, { exitCode: ExitCode.vmFailure });
      if (o.verbose) r.say(`hyperbuild: ${launch.command} ${launch.args.join(' ')}`);
      report = await start(launch);
    }
  } catch (err) {
    // Nothing runs: no trace of a VM that never was.
    discardVm(vm);
    throw err;
  }
  if (!report || report.state === 'restore-failed') {
    // Kept for the post-mortem: ps -a shows it exited, rm removes it.
    throw new HyperbuildError(`the VM supervisor of ${vm.name} ended without a word`, {
      hint: `see ${join(vm.dir, VM_FILES.supervisorLog)}`, exitCode: ExitCode.vmFailure,
    });
  }
  return { vm, report, restored };
}
