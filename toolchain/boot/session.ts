/**
 * One `hyperbuild boot`: verify the bundle, start the VM through a Hypervisor,
 * speak the HyperStart protocol (PROTOCOL.md) and turn the outcome into a
 * Docker-like exit code. Backend-neutral: it only sees channels and a RunningVm.
 *
 * Exit codes: the app's own (HyperStart maps signals/127/126); 125 when
 * HyperStart or the VM fails (with the last console lines); 124 when --timeout
 * expires (as coreutils timeout); 137 when the app ignored a forwarded
 * SIGINT/SIGTERM for --stop-timeout and the VM was killed (as `docker stop`).
 */
import type { Socket } from 'node:net';
import type { BundleManifest } from '../bundle/manifest.ts';
import { encodeSpec, type HyperStartSpec } from '../hyperstart/spec.ts';
import { HYPERSTART_VERSION } from '../hyperstart/version.ts';
import { ExitCode, HyperbuildError } from '../errors/errors.ts';
import { chooseAccel, probeHost, type AccelProbe, type AccelRequest } from './accel.ts';
import { ChannelSet } from './channels.ts';
import { ConsoleRing } from './console-ring.ts';
import {
  decodeExitPayload, encodeFrame, FrameDecoder, signalFrame, windowSizeFrame, type ExitReport, type Frame,
} from '../hyperstart/protocol.ts';
import { waitOrKill, type Hypervisor, type LaunchPlan, type RunningVm, type VmExit } from './hypervisor.ts';
import { defaultMemoryMiB } from './memory.ts';
import { assertNoDuplicateHostPorts, assertPortFree, type PortPublish } from './publish.ts';
import { buildRuntimeSpec, type RuntimeOverrides } from './runtime-spec.ts';
import { RawTerminal, terminalSize } from './terminal.ts';
import { tscKhz } from './tsc-frequency.ts';
import { openBundle } from '../bundle/open-bundle.ts';

export const EXIT_TIMEOUT = 124;
export const EXIT_STOP_KILLED = 128 + 9;
/** After `X`, how long announced output may take to arrive before we stop waiting. */
const OUTPUT_DRAIN_MS = 5_000;
/** After `B` (HyperStart powers off at once), how long until the VM is killed. */
const POWEROFF_MS = 10_000;
const STDIN_CHUNK = 64 * 1024;
const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

export interface BootOptions {
  bundleDir: string;
  hypervisor: Hypervisor;
  accel: AccelRequest;
  memoryMiB?: number;
  cpus: number;
  publish: PortPublish[];
  overrides: RuntimeOverrides;
  interactive: boolean;
  verbose: boolean;
  timeoutMs?: number;
  stopTimeoutMs: number;
  /** Injectable for tests; default the process's own. */
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  accelProbe?: AccelProbe;
  /** Observers for tests and --verbose. */
  onPlan?: (plan: LaunchPlan) => void;
}

export type BootOutcome = 'exited' | 'hyperstart-failed' | 'vm-died' | 'timeout' | 'stop-killed';

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

/** Counts bytes a port delivered while copying them, with backpressure. */
function copyCounting(sock: Socket, out: NodeJS.WritableStream, onBytes: (n: number) => void): void {
  sock.on('data', (chunk: Buffer) => {
    onBytes(chunk.length);
    if ((out as { writable?: boolean }).writable === false) return;
    if (!out.write(chunk)) {
      sock.pause();
      out.once('drain', () => sock.resume());
    }
  });
  sock.on('error', () => { /* the VM went away; exit handling reports it */ });
  sock.resume();
}

export async function runBoot(o: BootOptions): Promise<BootResult> {
  const started = Date.now();
  const stdout = o.stdout ?? process.stdout;
  const stderr = o.stderr ?? process.stderr;
  const stdin = o.stdin ?? process.stdin;

  const manifest: BundleManifest = (await openBundle(o.bundleDir, { verify: 'full' })).manifest;
  const spec: HyperStartSpec = buildRuntimeSpec(manifest.image, o.overrides);
  if (manifest.hyperstart?.version && manifest.hyperstart.version !== HYPERSTART_VERSION) {
    throw new HyperbuildError(`bundle has HyperStart protocol ${manifest.hyperstart.version}, this hyperbuild speaks ${HYPERSTART_VERSION}`, {
      hint: 'rebuild the bundle with this hyperbuild', exitCode: ExitCode.usage,
    });
  }
  const decision = chooseAccel(o.accel, o.accelProbe ?? probeHost());
  if (decision.notice) stderr.write(`${decision.notice}\n`);
  assertNoDuplicateHostPorts(o.publish);
  for (const p of o.publish) await assertPortFree(p);
  const memoryMiB = o.memoryMiB ?? defaultMemoryMiB(manifest.initramfs);

  // `hyperbuild boot ... | head -1`: a closed stdout must not crash us mid-run (the app
  // gets its own EPIPE-free run and its exit code still counts, as with docker run).
  const ignoreClosedOutput = () => {};
  stdout.on('error', ignoreClosedOutput);
  stderr.on('error', ignoreClosedOutput);

  const channels = await ChannelSet.open();
  let vm: RunningVm | undefined;
  let terminal: RawTerminal | undefined;
  const cleanups: (() => void)[] = [];
  try {
    const plan = await o.hypervisor.prepare({
      bundleDir: o.bundleDir, manifest, accel: decision.accel, memoryMiB, cpus: o.cpus,
      network: o.overrides.network, publish: o.publish, volumes: o.overrides.volumes,
      verbose: o.verbose, channels: channels.endpoints, tscKhz: tscKhz(),
    });
    o.onPlan?.(plan);
    if (o.verbose) stderr.write(`hyperbuild: ${[plan.command, ...plan.args].join(' ')}\n`);

    const vmStart = Date.now();
    vm = await o.hypervisor.start(plan);
    const running = vm;
    const result = (r: Omit<BootResult, 'durationMs' | 'hypervisor' | 'machine' | 'accel' | 'memoryMiB' | 'cpus' | 'stdoutBytes' | 'stderrBytes'>): BootResult => ({
      ...r, durationMs: Date.now() - started, hypervisor: plan.hypervisor, machine: plan.machine,
      accel: decision.accel, memoryMiB, cpus: o.cpus, stdoutBytes: counts.stdout, stderrBytes: counts.stderr,
    });
    const counts = { stdout: 0, stderr: 0 };
    const ring = new ConsoleRing();

    // The monitor connects every channel while it starts; if it dies first, say why.
    const connections = Promise.all([
      channels.connection('control'), channels.connection('stdout'),
      channels.connection('stderr'), channels.connection('console'),
    ]);
    const first = await Promise.race([connections, running.exited]);
    if (!Array.isArray(first)) {
      return result({
        exitCode: ExitCode.vmFailure, outcome: 'vm-died',
        message: `${plan.hypervisor} exited before the VM started (${describeExit(first)})${first.diagnostics ? `: ${first.diagnostics}` : ''}`,
      });
    }
    const [ctl, outSock, errSock, conSock] = first;

    conSock.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      ring.push(text);
      if (o.verbose) stderr.write(text);
    });
    conSock.on('error', () => { /* VM exit is reported elsewhere */ });
    conSock.resume();
    copyCounting(outSock, stdout, (n) => { counts.stdout += n; notifyOutput(); });
    copyCounting(errSock, o.overrides.tty ? stdout : stderr, (n) => { counts.stderr += n; notifyOutput(); });
    let outputWaiter: (() => void) | undefined;
    function notifyOutput() { outputWaiter?.(); }

    const send = (frame: Buffer) => { if (!ctl.destroyed) ctl.write(frame); };
    ctl.on('error', () => { /* reported through VM exit */ });

    return await new Promise<BootResult>((resolve) => {
      let settled = false;
      let appStarted = false;
      let pendingSignal: number | undefined;
      let stopTimer: NodeJS.Timeout | undefined;
      let bootMs: number | undefined;
      let startMs: number | undefined;
      let exitReport: ExitReport | undefined;
      const timers: NodeJS.Timeout[] = [];

      const finish = (r: BootResult) => {
        if (settled) return;
        settled = true;
        timers.forEach(clearTimeout);
        if (stopTimer) clearTimeout(stopTimer);
        resolve(r);
      };
      const failWithConsole = (exitCode: number, outcome: BootOutcome, message: string) => {
        running.kill();
        void running.exited.then(() => finish(result({ exitCode, outcome, message, bootMs, startMs, console: ring.tail() })));
      };

      // --- the app ends: drain announced output, then let HyperStart power off.
      const onExitFrame = async (report: ExitReport) => {
        exitReport = report;
        const deadline = Date.now() + OUTPUT_DRAIN_MS;
        while ((counts.stdout < report.stdoutBytes || counts.stderr < report.stderrBytes) && Date.now() < deadline) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, Math.max(1, deadline - Date.now()));
            outputWaiter = () => { clearTimeout(t); r(); };
          });
        }
        outputWaiter = undefined;
        if (counts.stdout < report.stdoutBytes || counts.stderr < report.stderrBytes) {
          stderr.write(`hyperbuild: warning: app output may be truncated (stdout ${counts.stdout}/${report.stdoutBytes}, stderr ${counts.stderr}/${report.stderrBytes} bytes)\n`);
        }
        send(encodeFrame('B'));
        await waitOrKill(running, POWEROFF_MS);
        if (stopTimer && killedForStop) return;
        finish(result({ exitCode: report.code, outcome: 'exited', bootMs, startMs }));
      };

      let killedForStop = false;
      const onFrame = (f: Frame) => {
        switch (f.type) {
          case 'H': {
            bootMs = Date.now() - vmStart;
            const version = /^hyperstart (\S+)/.exec(f.payload.toString('utf8'))?.[1];
            if (version !== HYPERSTART_VERSION) {
              failWithConsole(ExitCode.vmFailure, 'hyperstart-failed', `the guest's HyperStart speaks protocol ${version ?? '(unreadable)'}, this hyperbuild speaks ${HYPERSTART_VERSION}; rebuild the bundle`);
              break;
            }
            if (o.verbose) stderr.write(`hyperbuild: ${f.payload.toString('utf8')} up after ${bootMs} ms\n`);
            send(encodeFrame('S', encodeSpec(spec)));
            break;
          }
          case 'R': {
            startMs = Date.now() - vmStart;
            appStarted = true;
            if (pendingSignal !== undefined) send(signalFrame(pendingSignal));
            if (o.overrides.tty) {
              const size = terminalSize(stdout as NodeJS.WriteStream);
              if (size) send(windowSizeFrame(size.rows, size.cols));
            }
            if (o.interactive) forwardStdin();
            else send(encodeFrame('E'));
            break;
          }
          case 'X':
            try {
              void onExitFrame(decodeExitPayload(f.payload));
            } catch (err) {
              failWithConsole(ExitCode.vmFailure, 'hyperstart-failed', (err as Error).message);
            }
            break;
          case 'F': {
            const message = `HyperStart failed: ${f.payload.toString('utf8')}`;
            void waitOrKill(running, 3_000).then(() => finish(result({ exitCode: ExitCode.vmFailure, outcome: 'hyperstart-failed', message, bootMs, startMs })));
            break;
          }
          default:
            // Unknown guest frames are ignored so a newer HyperStart can add some.
            break;
        }
      };

      const decoder = new FrameDecoder();
      ctl.on('data', (chunk: Buffer) => {
        let frames: Frame[];
        try {
          frames = decoder.push(chunk);
        } catch (err) {
          failWithConsole(ExitCode.vmFailure, 'hyperstart-failed', (err as Error).message);
          return;
        }
        frames.forEach(onFrame);
      });
      ctl.resume();

      const forwardStdin = () => {
        if (o.overrides.tty) terminal = RawTerminal.enter(stdin);
        const onData = (chunk: Buffer) => {
          for (let i = 0; i < chunk.length; i += STDIN_CHUNK) {
            if (!ctl.write(encodeFrame('I', chunk.subarray(i, i + STDIN_CHUNK)))) {
              stdin.pause();
              ctl.once('drain', () => stdin.resume());
            }
          }
        };
        // A terminal has no EOF of its own (HyperStart ignores E in tty mode): end it the way a
        // user at the keyboard would, with ^D.
        const onEnd = () => send(o.overrides.tty ? encodeFrame('I', Buffer.from([0x04])) : encodeFrame('E'));
        stdin.on('data', onData);
        stdin.once('end', onEnd);
        stdin.resume();
        cleanups.push(() => {
          stdin.off('data', onData);
          stdin.off('end', onEnd);
          stdin.pause();
        });
      };

      if (o.overrides.tty) {
        const onResize = () => {
          const size = terminalSize(stdout as NodeJS.WriteStream);
          if (size && appStarted) send(windowSizeFrame(size.rows, size.cols));
        };
        process.on('SIGWINCH', onResize);
        cleanups.push(() => process.off('SIGWINCH', onResize));
      }

      // --- SIGINT/SIGTERM: ask the app to stop; kill the VM if it does not.
      const onSignal = (name: keyof typeof SIGNAL_NUMBERS) => {
        if (stopTimer) {
          // A second signal: the user means it.
          killedForStop = true;
          running.kill();
          void running.exited.then(() => finish(result({ exitCode: 128 + SIGNAL_NUMBERS[name], outcome: 'stop-killed', bootMs, startMs })));
          return;
        }
        const n = SIGNAL_NUMBERS[name];
        if (appStarted) send(signalFrame(n));
        else pendingSignal = n;
        stopTimer = setTimeout(() => {
          if (exitReport) return;
          killedForStop = true;
          stderr.write(`hyperbuild: the app did not stop within ${o.stopTimeoutMs} ms of ${name}; killing the VM\n`);
          running.kill();
          void running.exited.then(() => finish(result({ exitCode: EXIT_STOP_KILLED, outcome: 'stop-killed', bootMs, startMs })));
        }, o.stopTimeoutMs);
      };
      for (const name of Object.keys(SIGNAL_NUMBERS) as (keyof typeof SIGNAL_NUMBERS)[]) {
        const h = () => onSignal(name);
        process.on(name, h);
        cleanups.push(() => process.off(name, h));
      }

      if (o.timeoutMs !== undefined) {
        timers.push(setTimeout(() => {
          failWithConsole(EXIT_TIMEOUT, 'timeout', `--timeout: the run took longer than ${o.timeoutMs} ms; the VM was killed`);
        }, o.timeoutMs));
      }

      // --- the VM ended without a clean `X` → `B` sequence: a panic or a crash.
      void running.exited.then((exit: VmExit) => {
        if (settled || exitReport) return;
        setTimeout(() => {
          if (settled || exitReport) return;
          finish(result({
            exitCode: ExitCode.vmFailure, outcome: 'vm-died', bootMs, startMs, console: ring.tail(),
            message: `the VM stopped before the app exited (${describeExit(exit)})${exit.diagnostics ? `: ${exit.diagnostics}` : ''}`,
          }));
        }, 100);
      });
    });
  } finally {
    cleanups.forEach((c) => c());
    stdout.off('error', ignoreClosedOutput);
    stderr.off('error', ignoreClosedOutput);
    terminal?.restore();
    vm?.kill();
    channels.close();
  }
}

function describeExit(e: VmExit): string {
  return e.signal ? `killed by ${e.signal}` : `exit status ${e.code}`;
}
