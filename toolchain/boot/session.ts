/**
 * One `hyperbuild boot`, as wiring: open the bundle, run every check that can
 * refuse the request (preflight.ts), start the VM from its backend's opaque
 * plan, connect the channels, and let the guest link (guest-link.ts, driven by
 * link-driver.ts) hold the HyperStart conversation until it decides the exit
 * code. Backend-neutral: it only sees a Hypervisor, a LaunchPlan and a RunningVm.
 * Exit codes are documented in guest-link.ts.
 */
import type { Socket } from 'node:net';
import type { BundleManifest } from '../bundle/manifest.ts';
import { ExitCode } from '../errors/errors.ts';
import { HYPERSTART_VERSION } from '../hyperstart/protocol.ts';
import { ChannelSet } from './channels.ts';
import { copyCounting, keepConsole } from './guest-output.ts';
import { GuestLink, type BootOutcome, type LinkResult } from './guest-link.ts';
import { describeVmExit, type LaunchPlan, type RunningVm, type VmExit } from './hypervisor.ts';
import { LinkDriver } from './link-driver.ts';
import { preflight, type BootRequest, type Preflight } from './preflight.ts';
import { terminalSize } from './terminal.ts';
import { openBundle } from '../bundle/open-bundle.ts';

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
}

export interface BootResult {
  exitCode: number;
  outcome: BootOutcome;
  durationMs: number;
  /** From starting the VM to HyperStart's `H`. */
  bootMs?: number;
  /** From starting the VM to the app's `R`. */
  startMs?: number;
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

type Outcome = Pick<BootResult, 'exitCode' | 'outcome' | 'message' | 'bootMs' | 'startMs' | 'console'>;

/** The monitor connects every channel while it starts; if it dies first, that is the answer. */
async function connectChannels(channels: ChannelSet, vm: RunningVm): Promise<Socket[] | VmExit> {
  const connections = Promise.all([
    channels.connection('control'), channels.connection('stdout'),
    channels.connection('stderr'), channels.connection('console'),
  ]);
  return Promise.race([connections, vm.exited]);
}

/** The VM is up: pipe its output, and let the guest link run the app to its end. */
async function converse(o: BootOptions, io: Streams, vm: RunningVm, sockets: Socket[], ready: Preflight & { vmStart: number; counts: { stdout: number; stderr: number } }): Promise<Outcome> {
  const [ctl, outSock, errSock, conSock] = sockets;
  const ring = keepConsole(conSock, o.verbose ? io.stderr : undefined);
  const link = new GuestLink({
    spec: ready.spec, version: HYPERSTART_VERSION, tty: o.overrides.tty, interactive: o.interactive,
    timeoutMs: o.timeoutMs, stopTimeoutMs: o.stopTimeoutMs, now: Date.now, startedAt: ready.vmStart,
    windowSize: () => terminalSize(io.stdout as NodeJS.WriteStream),
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

export async function runBoot(o: BootOptions): Promise<BootResult> {
  const started = Date.now();
  const io: Streams = { stdin: o.stdin ?? process.stdin, stdout: o.stdout ?? process.stdout, stderr: o.stderr ?? process.stderr };
  const manifest: BundleManifest = (await openBundle(o.bundleDir, { verify: 'full' })).manifest;
  const ready = await preflight(manifest, o, (line) => io.stderr.write(`${line}\n`));

  // `hyperbuild boot ... | head -1`: a closed stdout must not crash us mid-run (the app
  // gets its own EPIPE-free run and its exit code still counts, as with docker run).
  const ignoreClosedOutput = () => {};
  io.stdout.on('error', ignoreClosedOutput);
  io.stderr.on('error', ignoreClosedOutput);

  const channels = await ChannelSet.open();
  let vm: RunningVm | undefined;
  try {
    const plan = await o.hypervisor.prepare({
      bundleDir: o.bundleDir, manifest, accel: ready.accel, memoryMiB: ready.memoryMiB, cpus: o.cpus,
      network: o.overrides.network, publish: o.publish, volumes: o.overrides.volumes,
      verbose: o.verbose, channels: channels.endpoints,
    });
    o.onPlan?.(plan);
    if (o.verbose) io.stderr.write(`hyperbuild: ${plan.describe()}\n`);

    const vmStart = Date.now();
    vm = await plan.start();
    const counts = { stdout: 0, stderr: 0 };
    const result = (r: Outcome): BootResult => ({
      ...r, durationMs: Date.now() - started, hypervisor: plan.hypervisor, machine: plan.machine,
      accel: ready.accel, memoryMiB: ready.memoryMiB, cpus: o.cpus, stdoutBytes: counts.stdout, stderrBytes: counts.stderr,
    });
    const sockets = await connectChannels(channels, vm);
    if (!Array.isArray(sockets)) {
      return result({
        exitCode: ExitCode.vmFailure, outcome: 'vm-died',
        message: `${plan.hypervisor} exited before the VM started (${describeVmExit(sockets)})${sockets.diagnostics ? `: ${sockets.diagnostics}` : ''}`,
      });
    }
    return result(await converse(o, io, vm, sockets, { ...ready, vmStart, counts }));
  } finally {
    io.stdout.off('error', ignoreClosedOutput);
    io.stderr.off('error', ignoreClosedOutput);
    vm?.kill();
    channels.close();
  }
}
