/**
 * `run -d`: the same checks as boot (preflight.ts) and the backend's plan,
 * then instead of starting the VM here, the supervisor (supervisor.ts) is
 * given the plan's supervised launch and owns the VM from then on. Returns
 * once the app runs (the supervisor's first report), or once the VM ended
 * before that; no hyperbuild process stays.
 */
import { join, resolve } from 'node:path';
import { bootableKernel } from '../bundle/bootable-kernel.ts';
import { openBundle } from '../bundle/open-bundle.ts';
import { DigestMemo } from '../cache/digest-memo.ts';
import { BadInputError, ExitCode, HyperbuildError } from '../errors/errors.ts';
import { writeFileAtomic } from '../fs/atomic.ts';
import { encodeSpec, HYPERSTART_VERSION } from '../hyperstart/protocol.ts';
import { preflight } from '../boot/preflight.ts';
import type { BootOptions } from '../boot/session.ts';
import { channelEndpoints, createVm, discardVm, type NewVm } from './create.ts';
import { VM_CONFIG_VERSION, writeConfig, type VmConfig } from './records.ts';
import { startSupervisor, type StartReport } from './supervisor.ts';
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
  const bundle = await openBundle(o.bundleDir, o.cacheDir ? { verify: 'memo', memo: new DigestMemo(o.cacheDir) } : { verify: 'full' });
  const ready = await preflight(bundle.manifest, o, r.say);
  const vm = createVm(root, o.bundleDir, r.name);
  let report: StartReport | undefined;
  try {
    const plan = await hv.prepare({
      bundleDir: o.bundleDir, manifest: bundle.manifest, accel: ready.accel, memoryMiB: ready.memoryMiB, cpus: o.cpus,
      kernelPath: await bootableKernel(bundle, o.cacheDir),
      network: o.overrides.network, publish: o.publish, volumes: o.overrides.volumes,
      verbose: false, channels: channelEndpoints(vm.dir), cacheDir: o.cacheDir,
    });
    const launch = plan.supervised?.();
    if (!launch) throw new HyperbuildError(`the ${hv.name} plan has no supervised launch`, { exitCode: ExitCode.vmFailure });
    if (o.verbose) r.say(`hyperbuild: ${launch.command} ${launch.args.join(' ')}`);
    await writeFileAtomic(join(vm.dir, VM_FILES.spec), encodeSpec(ready.spec), { mode: 0o600 });
    await writeConfig(vm.dir, configOf(r, vm, ready.spec.args, 'supervisor'));
    report = await startSupervisor({
      dir: vm.dir, version: HYPERSTART_VERSION, logMaxBytes: r.logMaxBytes, timeoutMs: o.timeoutMs,
      tty: o.overrides.tty, autoRemove: r.autoRemove, nameLink: vm.nameLink, launch,
    });
  } catch (err) {
    // Nothing runs: no trace of a VM that never was.
    discardVm(vm);
    throw err;
  }
  if (!report) {
    // Kept for the post-mortem: ps -a shows it exited, rm removes it.
    throw new HyperbuildError(`the VM supervisor of ${vm.name} ended without a word`, {
      hint: `see ${join(vm.dir, VM_FILES.supervisorLog)}`, exitCode: ExitCode.vmFailure,
    });
  }
  return { vm, report };
}
