/**
 * The host side of the HyperStart conversation (PROTOCOL.md) as a state
 * machine: events in (control bytes, output counts, signals, timers, the VM's
 * exit), actions out (frames to send, timers to set, kill the VM, lines to
 * print, the final result). No sockets, clocks or timers of its own, so every
 * path is testable in milliseconds (tests/boot-guest-link.test.ts);
 * session.ts wires it to the real ones.
 *
 *   awaiting-hello --H--> spec-sent --R--> running --X--> draining --(output in)--> powering-off --(VM exit)--> done
 *   (`restored`: a VM started from a template at its `H` starts in spec-sent, the host having sent `S` unprompted)
 *   any state: F, a bad frame, --timeout, a second signal, the stop timeout or a
 *   VM exit without X --> stopping (outcome decided, VM killed or given a grace) --(VM exit)--> done
 *
 * Exit codes: the app's own (HyperStart maps signals/127/126); 125 when
 * HyperStart or the VM fails; 124 when --timeout expires (as coreutils
 * timeout); 137 when the app ignored a forwarded SIGINT/SIGTERM for
 * --stop-timeout (as `docker stop`); 128+N when a second signal N forced it.
 * The first decided outcome wins, and wins over the app's exit.
 */
import { ExitCode } from '../errors/errors.ts';
import {
  decodeExitPayload, encodeFrame, encodeSpec, FrameDecoder, signalFrame, windowSizeFrame,
  type ExitReport, type Frame, type HyperStartSpec,
} from '../hyperstart/protocol.ts';
import { guestFreshness } from './guest-freshness.ts';
import { describeVmExit, type VmExit } from './hypervisor.ts';

export const EXIT_TIMEOUT = 124;
export const EXIT_STOP_KILLED = 128 + 9;
/** After `X`, how long announced output may take to arrive before we stop waiting. */
export const OUTPUT_DRAIN_MS = 5_000;
/** After `B` (HyperStart powers off at once), how long until the VM is killed. */
export const POWEROFF_MS = 10_000;
/** After `F`, how long HyperStart gets to power off by itself. */
export const FAILURE_GRACE_MS = 3_000;
/** After the VM exits without `X`, how long its last frames may take to be read. */
export const EXIT_GRACE_MS = 100;
const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

export type StopSignal = keyof typeof SIGNAL_NUMBERS;
export type LinkState = 'awaiting-hello' | 'spec-sent' | 'running' | 'draining' | 'powering-off' | 'stopping' | 'done';
export type TimerName = 'timeout' | 'stop' | 'drain' | 'poweroff' | 'failure-grace' | 'exit-grace';
export type BootOutcome = 'exited' | 'hyperstart-failed' | 'vm-died' | 'timeout' | 'stop-killed';

export type LinkEvent =
  | { type: 'control'; chunk: Buffer }
  | { type: 'output'; stream: 'stdout' | 'stderr'; bytes: number }
  | { type: 'signal'; signal: StopSignal }
  | { type: 'resize' }
  | { type: 'timer'; name: TimerName }
  | { type: 'vm-exited'; exit: VmExit };

export type LinkAction =
  | { type: 'send'; frame: Buffer }
  /** The app runs and `-i` was given: start copying stdin (as I frames, then E or ^D). */
  | { type: 'forward-stdin' }
  | { type: 'set-timer'; name: TimerName; ms: number }
  | { type: 'clear-timer'; name: TimerName }
  | { type: 'kill-vm' }
  /** A line for stderr, always. */
  | { type: 'say'; line: string }
  /** A line for stderr with --verbose. */
  | { type: 'note'; line: string }
  | { type: 'done'; result: LinkResult };

export interface LinkResult {
  exitCode: number;
  outcome: BootOutcome;
  message?: string;
  /** From the VM's start to HyperStart's `H`. */
  bootMs?: number;
  /** From the VM's start to the app's `R`. */
  startMs?: number;
  /** From the VM's start to the app's `X` (its exit, as HyperStart saw it). */
  exitMs?: number;
  /** The guest did not explain itself: show the console's last lines. */
  withConsole: boolean;
}

export interface LinkConfig {
  spec: HyperStartSpec;
  /** The protocol version this host speaks (HYPERSTART_VERSION). */
  version: string;
  tty: boolean;
  interactive: boolean;
  timeoutMs?: number;
  stopTimeoutMs: number;
  /** Milliseconds clock; `startedAt` is when the VM was started on it. */
  now: () => number;
  startedAt: number;
  /** The host terminal's size in tty mode, when there is one. */
  windowSize: () => { rows: number; cols: number } | undefined;
  /**
   * The VM was restored from a template saved at HyperStart's `H` (its version
   * checked when the template was made): the guest will not say `H` again, so
   * the link sends `S` as it starts.
   */
  restored?: boolean;
  /**
   * Nothing in the VM outlives the app (a template clone: read-only disks, no volumes), so once the
   * announced output is in, the VM is killed at once instead of waiting for HyperStart's power-off.
   */
  disposable?: boolean;
}

type Decided = Omit<LinkResult, 'bootMs' | 'startMs' | 'exitMs'>;

export class GuestLink {
  private current: LinkState = 'awaiting-hello';
  private readonly decoder = new FrameDecoder();
  private out: LinkAction[] = [];
  private readonly counts = { stdout: 0, stderr: 0 };
  private report?: ExitReport;
  private decided?: Decided;
  private vmExit?: VmExit;
  private appStarted = false;
  private stopSignal?: StopSignal;
  private pendingSignal?: number;
  private bootMs?: number;
  private startMs?: number;
  private exitMs?: number;

  constructor(private readonly c: LinkConfig) {}

  get state(): LinkState {
    return this.current;
  }

  /** The actions to take as the link starts (the --timeout timer; `S` for a restored VM). */
  start(): LinkAction[] {
    if (this.c.timeoutMs !== undefined) this.emit({ type: 'set-timer', name: 'timeout', ms: this.c.timeoutMs });
    if (this.c.restored && this.current === 'awaiting-hello') {
      this.bootMs = this.c.now() - this.c.startedAt;
      this.emit({ type: 'note', line: `hyperbuild: restored from a VM template in ${this.bootMs} ms` });
      this.sendSpec();
    }
    return this.flush();
  }

  handle(e: LinkEvent): LinkAction[] {
    if (this.current === 'done') return [];
    switch (e.type) {
      case 'control': this.onControl(e.chunk); break;
      case 'output': this.onOutput(e.stream, e.bytes); break;
      case 'signal': this.onSignal(e.signal); break;
      case 'resize': if (this.appStarted) this.sendWindowSize(); break;
      case 'timer': this.onTimer(e.name); break;
      case 'vm-exited': this.onVmExited(e.exit); break;
    }
    return this.flush();
  }

  private emit(a: LinkAction): void {
    this.out.push(a);
  }

  private flush(): LinkAction[] {
    const actions = this.out;
    this.out = [];
    return actions;
  }

  private send(frame: Buffer): void {
    this.emit({ type: 'send', frame });
  }

  private onControl(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.kill({ exitCode: ExitCode.vmFailure, outcome: 'hyperstart-failed', message: (err as Error).message, withConsole: true });
      return;
    }
    for (const f of frames) {
      if (this.current === 'done' || this.current === 'stopping') return;
      this.onFrame(f);
    }
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case 'H': if (this.current === 'awaiting-hello') this.onHello(f.payload); break;
      case 'R': if (this.current === 'spec-sent') this.onRunning(); break;
      case 'X': if (this.current === 'spec-sent' || this.current === 'running') this.onExitFrame(f.payload); break;
      case 'F': this.onFailure(f.payload); break;
      // Unknown or out-of-order guest frames are ignored so a newer HyperStart can add some.
      default: break;
    }
  }

  private onHello(payload: Buffer): void {
    this.bootMs = this.c.now() - this.c.startedAt;
    const hello = payload.toString('utf8');
    const version = /^hyperstart (\S+)/.exec(hello)?.[1];
    if (version !== this.c.version) {
      const message = `the guest's HyperStart speaks protocol ${version ?? '(unreadable)'}, this hyperbuild speaks ${this.c.version}; rebuild the bundle`;
      this.kill({ exitCode: ExitCode.vmFailure, outcome: 'hyperstart-failed', message, withConsole: true });
      return;
    }
    this.emit({ type: 'note', line: `hyperbuild: ${hello} up after ${this.bootMs} ms` });
    this.sendSpec();
  }

  private sendSpec(): void {
    // Clock and entropy are taken now, for a cold boot and a template clone alike (guest-freshness.ts).
    this.send(encodeFrame('S', encodeSpec({ ...this.c.spec, ...guestFreshness() })));
    this.current = 'spec-sent';
  }

  private onRunning(): void {
    this.startMs = this.c.now() - this.c.startedAt;
    this.appStarted = true;
    this.current = 'running';
    if (this.pendingSignal !== undefined) this.send(signalFrame(this.pendingSignal));
    this.sendWindowSize();
    if (this.c.interactive) this.emit({ type: 'forward-stdin' });
    else this.send(encodeFrame('E'));
  }

  private sendWindowSize(): void {
    if (!this.c.tty) return;
    const size = this.c.windowSize();
    if (size) this.send(windowSizeFrame(size.rows, size.cols));
  }

  private onExitFrame(payload: Buffer): void {
    try {
      this.report = decodeExitPayload(payload);
    } catch (err) {
      this.kill({ exitCode: ExitCode.vmFailure, outcome: 'hyperstart-failed', message: (err as Error).message, withConsole: true });
      return;
    }
    this.exitMs = this.c.now() - this.c.startedAt;
    this.current = 'draining';
    if (this.drained()) this.powerOff();
    else this.emit({ type: 'set-timer', name: 'drain', ms: OUTPUT_DRAIN_MS });
  }

  private onFailure(payload: Buffer): void {
    const message = `HyperStart failed: ${payload.toString('utf8')}`;
    this.decide({ exitCode: ExitCode.vmFailure, outcome: 'hyperstart-failed', message, withConsole: false });
    // HyperStart powers off after F; kill the VM only if it does not.
    if (this.current !== 'done') this.emit({ type: 'set-timer', name: 'failure-grace', ms: FAILURE_GRACE_MS });
  }

  private drained(): boolean {
    const r = this.report!;
    return this.counts.stdout >= r.stdoutBytes && this.counts.stderr >= r.stderrBytes;
  }

  private onOutput(stream: 'stdout' | 'stderr', bytes: number): void {
    this.counts[stream] += bytes;
    if (this.current === 'draining' && this.drained()) {
      this.emit({ type: 'clear-timer', name: 'drain' });
      this.powerOff();
    }
  }

  /** Output is in (or will not come): let HyperStart power off, and wait for the VM to end. */
  private powerOff(): void {
    if (!this.drained()) {
      const r = this.report!;
      this.emit({ type: 'say', line: `hyperbuild: warning: app output may be truncated (stdout ${this.counts.stdout}/${r.stdoutBytes}, stderr ${this.counts.stderr}/${r.stderrBytes} bytes)` });
    }
    this.current = 'powering-off';
    this.send(encodeFrame('B'));
    if (this.vmExit) this.finish({ exitCode: this.report!.code, outcome: 'exited', withConsole: false });
    else {
      if (this.c.disposable) this.emit({ type: 'kill-vm' });
      this.emit({ type: 'set-timer', name: 'poweroff', ms: POWEROFF_MS });
    }
  }

  private onSignal(name: StopSignal): void {
    const n = SIGNAL_NUMBERS[name];
    if (this.stopSignal) {
      // A second signal: the user means it.
      this.kill({ exitCode: 128 + n, outcome: 'stop-killed', withConsole: false });
      return;
    }
    this.stopSignal = name;
    if (this.appStarted) this.send(signalFrame(n));
    else this.pendingSignal = n;
    this.emit({ type: 'set-timer', name: 'stop', ms: this.c.stopTimeoutMs });
  }

  private onTimer(name: TimerName): void {
    switch (name) {
      case 'timeout': {
        const message = `--timeout: the run took longer than ${this.c.timeoutMs} ms; the VM was killed`;
        this.kill({ exitCode: EXIT_TIMEOUT, outcome: 'timeout', message, withConsole: true });
        break;
      }
      case 'stop':
        if (this.report || this.decided) break;
        this.emit({ type: 'say', line: `hyperbuild: the app did not stop within ${this.c.stopTimeoutMs} ms of ${this.stopSignal}; killing the VM` });
        this.kill({ exitCode: EXIT_STOP_KILLED, outcome: 'stop-killed', withConsole: false });
        break;
      case 'drain': if (this.current === 'draining') this.powerOff(); break;
      case 'poweroff': case 'failure-grace': this.emit({ type: 'kill-vm' }); break;
      case 'exit-grace': this.onExitGrace(); break;
    }
  }

  private onVmExited(exit: VmExit): void {
    this.vmExit = exit;
    if (this.decided) this.finish(this.decided);
    else if (this.current === 'powering-off') this.finish({ exitCode: this.report!.code, outcome: 'exited', withConsole: false });
    // Draining: output already sent may still be in the sockets; the drain decides.
    else if (this.current !== 'draining') this.emit({ type: 'set-timer', name: 'exit-grace', ms: EXIT_GRACE_MS });
  }

  /** The VM ended without a clean `X` → `B` sequence (and no late X or F came): a panic or a crash. */
  private onExitGrace(): void {
    if (this.decided || this.report) return;
    const exit = this.vmExit!;
    const message = `the VM stopped before the app exited (${describeVmExit(exit)})${exit.diagnostics ? `: ${exit.diagnostics}` : ''}`;
    this.finish({ exitCode: ExitCode.vmFailure, outcome: 'vm-died', message, withConsole: true });
  }

  /** Record the outcome (the first one decided wins); the run ends when the VM has exited. */
  private decide(d: Decided): void {
    this.decided ??= d;
    this.current = 'stopping';
    if (this.vmExit) this.finish(this.decided);
  }

  private kill(d: Decided): void {
    this.emit({ type: 'kill-vm' });
    this.decide(d);
  }

  private finish(d: Decided): void {
    this.current = 'done';
    this.emit({ type: 'done', result: { ...d, bootMs: this.bootMs, startMs: this.startMs, exitMs: this.exitMs } });
  }
}
