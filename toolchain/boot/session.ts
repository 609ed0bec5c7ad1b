/**
 * One `hyperbuild boot`, as wiring: open the bundle, run every check that can
 * refuse the request (preflight.ts), start the VM from its backend's opaque
 * plan, connect the channels, and let the guest link (guest-link.ts, driven by
 * link-driver.ts) hold the HyperStart conversation until it decides the exit
 * code. Backend-neutral: it only sees a Hypervisor, a LaunchPlan and a RunningVm.
 * Exit codes are documented in guest-link.ts.
 */
import type { Socket } from 'node:net';
import { ExitCode } from '../errors/errors.ts';
import { HYPERSTART_VERSION } from '../hyperstart/protocol.ts';
import { ChannelSet } from './channels.ts';
import { copyCounting, keepConsole } from './guest-output.ts';
import { GuestLink, type BootOutcome, type LinkResult } from './guest-link.ts';
import { describeVmExit, type LaunchPlan, type RunningVm, type VmExit } from './hypervisor.ts';
import { LinkDriver } from './link-driver.ts';
import { preflight, type BootRequest, type Preflight } from './preflight.ts';
import { terminalSize } from './terminal.ts';
import { bootableKernel } from '../bundle/bootable-kernel.ts';
import { openBundleToBoot, type OpenedBundle } from '../bundle/open-bundle.ts';
import { sha256Digest } from '../digest/digest.ts';
import { startFromTemplate } from './template/warm-start.ts';

export { EXIT_STOP_KILLED, EXIT_TIMEOUT, type BootOutcome } from './guest-link.ts';

export interface BootOptions extends BootRequest {
  bundleDir: string;
  cpus: number;
  interactive: boolean;
  verbose: boolean;
  timeoutMs?: number;
  stopTimeoutMs: number;
  /** Injectable for tests; default the process's own. */
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Observers for tests and --verbose. */
  onPlan?: (plan: LaunchPlan) => void;
  /** The cache: bundle digests remembered by stat identity, VM templates, the monitor's version. None: hash everything, boot cold. */
  cacheDir?: string;
  /** false: `--no-template`, always boot cold. */
  template?: boolean;
}

export interface BootResult {
  exitCode: number;
  outcome: BootOutcome;
  durationMs: number;
  /** From starting the VM to HyperStart's `H`. */
  bootMs?: number;
  /** From starting the VM to the app's `R`. */
  startMs?: number;
  /** From starting the VM to the app's `X`. */
  exitMs?: number;
  /** Started from a VM template (toolchain/boot/template/). */
  restored: boolean;
  /** When this boot made the template first: how long that took. */
  templateMs?: number;
  /** hyperbuild's own time: process start → monitor spawn (without templateMs), app exit → the end of the session. */
  host?: { toSpawnMs: number; afterExitMs?: number; phases: Record<string, number> };
  hypervisor: string;
  machine: string;
  accel: string;
  memoryMiB: number;
  cpus: number;
  stdoutBytes: number;
  stderrBytes: number;
  /** HyperStart's F message, or why the VM died. */
  message?: string;
  /** Last console lines, on failure. */
  console?: string[];
}

interface Streams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

type Outcome = Pick<BootResult, 'exitCode' | 'outcome' | 'message' | 'bootMs' | 'startMs' | 'exitMs' | 'console'>;

/** The monitor connects every channel while it starts; if it dies first, that is the answer. */
async function connectChannels(channels: ChannelSet, vm: RunningVm): Promise<Socket[] | VmExit> {
  const connections = Promise.all([
    channels.connection('control'), channels.connection('stdout'),
    channels.connection('stderr'), channels.connection('console'),
  ]);
  return Promise.race([connections, vm.exited]);
}

/** The VM is up: pipe its output, and let the guest link run the app to its end. */
async function converse(o: BootOptions, io: Streams, vm: RunningVm, sockets: Socket[], ready: Preflight & { vmStart: number; restored: boolean; counts: { stdout: number; stderr: number } }): Promise<Outcome> {
  const [ctl, outSock, errSock, conSock] = sockets;
  const ring = keepConsole(conSock, o.verbose ? io.stderr : undefined);
  const link = new GuestLink({
    spec: ready.spec, version: HYPERSTART_VERSION, tty: o.overrides.tty, interactive: o.interactive,
    timeoutMs: o.timeoutMs, stopTimeoutMs: o.stopTimeoutMs, now: Date.now, startedAt: ready.vmStart,
    windowSize: () => terminalSize(io.stdout as NodeJS.WriteStream), restored: ready.restored,
    // A clone has no volumes (templates are not made for -v) and only read-only disks: nothing to shut down cleanly.
    disposable: ready.restored,
  });
  const driver = new LinkDriver(link, { ctl, vm, stdin: io.stdin, stderr: io.stderr, tty: o.overrides.tty, verbose: o.verbose });
  const counts = ready.counts;
  copyCounting(outSock, io.stdout, (bytes) => { counts.stdout += bytes; driver.feed({ type: 'output', stream: 'stdout', bytes }); });
  copyCounting(errSock, o.overrides.tty ? io.stdout : io.stderr, (bytes) => { counts.stderr += bytes; driver.feed({ type: 'output', stream: 'stderr', bytes }); });
  try {
    driver.start();
    const r: LinkResult = await driver.done;
    const { withConsole, ...rest } = r;
    return withConsole ? { ...rest, console: ring.tail() } : rest;
  } finally {
    driver.stop();
  }
}


interface Started {
  plan: LaunchPlan;
  channels: ChannelSet;
  vm: RunningVm;
  vmStart: number;
  restored: boolean;
  templateMs?: number;
}

/** Open channels, plan, and start the VM: from its template when it can (template/warm-start.ts), else cold. */
async function startVm(o: BootOptions, io: Streams, bundle: OpenedBundle, ready: Preflight, owned: { channels?: ChannelSet }, mark: (phase: string) => void): Promise<Started> {
  const say = (line: string) => io.stderr.write(`${line}\n`);
  const plan = async () => {
    owned.channels = await ChannelSet.open();
    const p = await o.hypervisor.prepare({
      bundleDir: o.bundleDir, manifest: bundle.manifest, accel: ready.accel, memoryMiB: ready.memoryMiB, cpus: o.cpus,
      kernelPath: await bootableKernel(bundle, o.cacheDir),
      network: o.overrides.network, publish: o.publish, volumes: o.overrides.volumes,
      verbose: o.verbose, channels: owned.channels.endpoints, cacheDir: o.cacheDir,
    });
    o.onPlan?.(p);
    return p;
  };
  let p = await plan();
  mark('plan');
  const warm = o.cacheDir
    ? await startFromTemplate(p, {
      cacheDir: o.cacheDir, bundleDigest: sha256Digest(bundle.manifestBytes), useTemplate: o.template !== false,
      say, note: (line) => { if (o.verbose) say(line); }, onRestoring: () => mark('template lookup'),
    })
    : { restored: false as const, channelsUsed: false };
  if (warm.restored) return { plan: p, channels: owned.channels!, vm: warm.vm, vmStart: warm.startedAt, restored: true, templateMs: warm.templateMs };
  if (warm.channelsUsed) {
    owned.channels!.close();
    p = await plan();
  }
  if (o.verbose) say(`hyperbuild: ${p.describe()}`);
  mark(o.cacheDir ? 'template lookup' : 'no template');
  const vmStart = Date.now();
  const vm = await p.start();
  mark('spawn');
  return { plan: p, channels: owned.channels!, vm, vmStart, restored: false, templateMs: warm.templateMs };
}

export async function runBoot(o: BootOptions): Promise<BootResult> {
  const started = Date.now();
  const phases: Record<string, number> = {};
  let last = 0;
  const mark = (phase: string) => { const now = performance.now(); phases[phase] = Math.round(now - last); last = now; };
  mark('cli');
  const io: Streams = { stdin: o.stdin ?? process.stdin, stdout: o.stdout ?? process.stdout, stderr: o.stderr ?? process.stderr };
  const bundle = await openBundleToBoot(o.bundleDir, o.cacheDir);
  mark('bundle');
  const ready = await preflight(bundle.manifest, o, (line) => io.stderr.write(`${line}\n`));
  mark('preflight');

  // `hyperbuild boot ... | head -1`: a closed stdout must not crash us mid-run (the app
  // gets its own EPIPE-free run and its exit code still counts, as with docker run).
  const ignoreClosedOutput = () => {};
  io.stdout.on('error', ignoreClosedOutput);
  io.stderr.on('error', ignoreClosedOutput);

  const owned: { channels?: ChannelSet } = {};
  let vm: RunningVm | undefined;
  try {
    const s = await startVm(o, io, bundle, ready, owned, mark);
    vm = s.vm;
    // Up to the monitor's spawn; a template made by this boot is a one-time cost, reported apart (templateMs).
    if (s.templateMs !== undefined) phases['template lookup'] -= s.templateMs;
    const spawnedMs = Object.values(phases).reduce((a, b) => a + b, 0);
    const counts = { stdout: 0, stderr: 0 };
    const result = (r: Outcome): BootResult => hostTimes({
      ...r, durationMs: Date.now() - started, hypervisor: s.plan.hypervisor, machine: s.plan.machine,
      accel: ready.accel, memoryMiB: ready.memoryMiB, cpus: o.cpus, stdoutBytes: counts.stdout, stderrBytes: counts.stderr,
      restored: s.restored, templateMs: s.templateMs,
    }, spawnedMs, s.vmStart, phases);
    const sockets = await connectChannels(s.channels, s.vm);
    if (!Array.isArray(sockets)) {
      return result({
        exitCode: ExitCode.vmFailure, outcome: 'vm-died',
        message: `${s.plan.hypervisor} exited before the VM started (${describeVmExit(sockets)})${sockets.diagnostics ? `: ${sockets.diagnostics}` : ''}`,
      });
    }
    return result(await converse(o, io, s.vm, sockets, { ...ready, vmStart: s.vmStart, restored: s.restored, counts }));
  } finally {
    io.stdout.off('error', ignoreClosedOutput);
    io.stderr.off('error', ignoreClosedOutput);
    vm?.kill();
    owned.channels?.close();
  }
}

/**
 * hyperbuild's own share of the run: from process start to the monitor's spawn
 * (less a template's one-time making), and from the app's exit (`X`) to now.
 */
function hostTimes(r: BootResult, spawnedMs: number, vmStart: number, phases: Record<string, number>): BootResult {
  const exitedAt = r.exitMs === undefined ? undefined : vmStart + r.exitMs;
  return { ...r, host: { toSpawnMs: Math.round(spawnedMs), afterExitMs: exitedAt === undefined ? undefined : Date.now() - exitedAt, phases } };
}
