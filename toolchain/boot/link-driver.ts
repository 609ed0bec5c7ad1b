/**
 * Wiring the guest link (guest-link.ts) to the real world: control-port bytes,
 * output counts, SIGINT/SIGTERM/SIGWINCH, timers and the VM's exit become its
 * events; its actions become frames on the control port, timers, a killed VM,
 * stdin forwarding and stderr lines. Events are fed one at a time, in order,
 * even when an action triggers another event synchronously.
 */
import type { Socket } from 'node:net';
import type { GuestLink, LinkAction, LinkEvent, LinkResult, StopSignal, TimerName } from './guest-link.ts';
import type { RunningVm } from './hypervisor.ts';
import { forwardStdin } from './stdin-pump.ts';

export interface DriverWiring {
  ctl: Socket;
  vm: RunningVm;
  stdin: NodeJS.ReadStream;
  stderr: NodeJS.WritableStream;
  tty: boolean;
  verbose: boolean;
}

const STOP_SIGNALS: StopSignal[] = ['SIGINT', 'SIGTERM'];

export class LinkDriver {
  /** Resolves with the link's result once it is done. */
  readonly done: Promise<LinkResult>;
  private resolveDone!: (r: LinkResult) => void;
  private readonly timers = new Map<TimerName, NodeJS.Timeout>();
  private readonly queue: LinkEvent[] = [];
  private readonly cleanups: (() => void)[] = [];
  private busy = false;
  private finished = false;

  constructor(private readonly link: GuestLink, private readonly w: DriverWiring) {
    this.done = new Promise((resolve) => { this.resolveDone = resolve; });
  }

  /** Subscribes to everything the link listens to and runs its first actions. */
  start(): void {
    const { ctl } = this.w;
    ctl.on('error', () => { /* reported through VM exit */ });
    ctl.on('data', (chunk: Buffer) => this.feed({ type: 'control', chunk }));
    ctl.resume();
    if (this.w.tty) this.listen('SIGWINCH', () => this.feed({ type: 'resize' }));
    for (const signal of STOP_SIGNALS) this.listen(signal, () => this.feed({ type: 'signal', signal }));
    void this.w.vm.exited.then((exit) => this.feed({ type: 'vm-exited', exit }));
    this.perform(this.link.start());
  }

  /** An event from outside the control port (output counts). */
  feed(e: LinkEvent): void {
    this.queue.push(e);
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length && !this.finished) this.perform(this.link.handle(this.queue.shift()!));
    } finally {
      this.busy = false;
    }
  }

  /** Removes every listener and timer, stops stdin forwarding (restoring the terminal). */
  stop(): void {
    this.finished = true;
    this.timers.forEach(clearTimeout);
    this.timers.clear();
    this.cleanups.splice(0).forEach((c) => c());
  }

  private listen(signal: NodeJS.Signals, handler: () => void): void {
    process.on(signal, handler);
    this.cleanups.push(() => process.off(signal, handler));
  }

  private perform(actions: LinkAction[]): void {
    for (const a of actions) this.act(a);
  }

  private act(a: LinkAction): void {
    switch (a.type) {
      case 'send': if (!this.w.ctl.destroyed) this.w.ctl.write(a.frame); break;
      case 'forward-stdin': this.cleanups.push(forwardStdin(this.w.stdin, this.w.ctl, this.w.tty)); break;
      case 'set-timer': this.setTimer(a.name, a.ms); break;
      case 'clear-timer': clearTimeout(this.timers.get(a.name)); this.timers.delete(a.name); break;
      case 'kill-vm': this.w.vm.kill(); break;
      case 'say': this.w.stderr.write(`${a.line}\n`); break;
      case 'note': if (this.w.verbose) this.w.stderr.write(`${a.line}\n`); break;
      case 'done':
        this.finished = true;
        this.timers.forEach(clearTimeout);
        this.timers.clear();
        this.resolveDone(a.result);
        break;
    }
  }

  private setTimer(name: TimerName, ms: number): void {
    clearTimeout(this.timers.get(name));
    this.timers.set(name, setTimeout(() => {
      this.timers.delete(name);
      this.feed({ type: 'timer', name });
    }, ms));
  }
}
