/**
 * A small QMP (QEMU Machine Protocol) client: JSON objects, one per line, over
 * a unix socket that QEMU connects to (`-chardev socket,path=...` +
 * `-mon chardev=...,mode=control`; hyperbuild listens, as for the channels).
 * It reads the greeting, negotiates capabilities, runs commands one at a time
 * matched by `id`, and keeps asynchronous events for waitEvent(). Every wait is
 * bounded, and a monitor that hangs up fails every pending wait at once.
 * Failures are QmpError (the command and QEMU's error class and text).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ExitCode, HyperbuildError } from '../../errors/errors.ts';

/** How long one command or the greeting may take unless the caller says otherwise. */
export const QMP_TIMEOUT_MS = 10_000;

export class QmpError extends HyperbuildError {
  constructor(message: string, readonly qmpClass?: string) {
    super(`QMP: ${message}`, { exitCode: ExitCode.vmFailure });
    this.name = 'QmpError';
  }
}

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface EventWaiter {
  match: (e: QmpEvent) => boolean;
  resolve: (e: QmpEvent) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const closedError = (): QmpError => new QmpError('the monitor closed the connection (QEMU exited?)');

type Message = { QMP?: unknown; return?: unknown; error?: { class: string; desc: string }; id?: number; event?: string; data?: Record<string, unknown> };

export class QmpClient {
  private buffered = '';
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private waiters: EventWaiter[] = [];
  private readonly seen: QmpEvent[] = [];
  private greeting?: () => void;
  private closedWith?: Error;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (s: string) => this.onData(s));
    // A reset is how an exiting QEMU often closes the monitor: the same outcome as a clean close.
    sock.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? closedError() : new QmpError(`monitor connection failed: ${err.message}`)));
    sock.on('close', () => this.fail(closedError()));
  }

  /** Wrap a connected monitor socket: wait for the greeting, then leave negotiation mode. */
  static async open(sock: Socket, timeoutMs = QMP_TIMEOUT_MS): Promise<QmpClient> {
    const client = new QmpClient(sock);
    await client.bounded('the greeting', timeoutMs, (resolve) => { client.greeting = resolve; });
    await client.execute('qmp_capabilities', undefined, timeoutMs);
    return client;
  }

  /** Run one command; resolves with its `return` value, rejects with QmpError on `error`. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = QMP_TIMEOUT_MS): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpError(`${command}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (err: Error) => reject(err instanceof QmpError && err.qmpClass ? new QmpError(`${command}: ${err.message.replace(/^QMP: /, '')}`, err.qmpClass) : err);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject: fail, timer });
      this.sock.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  /** The first event (already received or still to come) that `match` accepts. */
  waitEvent(name: string, match: (data: Record<string, unknown>) => boolean = () => true, timeoutMs = QMP_TIMEOUT_MS): Promise<QmpEvent> {
    const accepts = (e: QmpEvent) => e.event === name && match(e.data ?? {});
    const index = this.seen.findIndex(accepts);
    if (index >= 0) return Promise.resolve(this.seen.splice(index, 1)[0]);
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<QmpEvent>((resolve, reject) => {
      const waiter: EventWaiter = {
        match: accepts, resolve, reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new QmpError(`no ${name} event within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.fail(new QmpError('the monitor connection was closed'));
    this.sock.destroy();
  }

  private bounded(what: string, timeoutMs: number, arm: (resolve: () => void) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new QmpError(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      const done = (err?: Error) => { clearTimeout(timer); if (err) reject(err); else resolve(); };
      arm(() => done());
      this.sock.once('close', () => done(this.closedWith));
    });
  }

  private onData(s: string): void {
    this.buffered += s;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl).trim();
      this.buffered = this.buffered.slice(nl + 1);
      if (line) this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let m: Message;
    try {
      m = JSON.parse(line) as Message;
    } catch {
      this.fail(new QmpError(`unreadable message from the monitor: ${line.slice(0, 200)}`));
      return;
    }
    if (m.QMP !== undefined) this.greeting?.();
    else if (m.event !== undefined) this.onEvent({ event: m.event, data: m.data });
    else if (typeof m.id === 'number') this.onAnswer(m.id, m);
  }

  private onAnswer(id: number, m: Message): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (m.error) p.reject(new QmpError(`${m.error.class}: ${m.error.desc}`, m.error.class));
    else p.resolve(m.return);
  }

  private onEvent(e: QmpEvent): void {
    const waiter = this.waiters.find((w) => w.match(e));
    if (!waiter) {
      this.seen.push(e);
      return;
    }
    this.waiters = this.waiters.filter((w) => w !== waiter);
    clearTimeout(waiter.timer);
    waiter.resolve(e);
  }

  private fail(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(err); }
    this.pending.clear();
    for (const w of this.waiters) { clearTimeout(w.timer); w.reject(err); }
    this.waiters = [];
  }
}

/**
 * A one-connection unix socket listener for the monitor: listening before QEMU
 * starts, so QEMU's connect never races a socket that is not there yet.
 */
export class QmpListener {
  private constructor(private readonly server: Server, readonly path: string, private readonly connected: Promise<Socket>) {}

  static async listen(path: string): Promise<QmpListener> {
    const server = createServer();
    const connected = new Promise<Socket>((resolve) => {
      server.once('connection', (sock) => { server.close(); resolve(sock); });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => { server.off('error', reject); resolve(); });
    });
    return new QmpListener(server, path, connected);
  }

  /** The monitor's client, once QEMU has connected; rejects if `died` settles first or the wait expires. */
  async client(died: Promise<unknown>, timeoutMs = QMP_TIMEOUT_MS): Promise<QmpClient> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QmpError(`QEMU did not connect to its monitor within ${timeoutMs} ms`)), timeoutMs);
    });
    const gone = died.then(() => { throw new QmpError('QEMU exited before it connected to its monitor'); });
    try {
      const sock = await Promise.race([this.connected, expired, gone]);
      return await QmpClient.open(sock, timeoutMs);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.server.close();
  }
}
