/**
 * Reading a VM's container.log (+ its rotated container.log.1), the
 * supervisor's k8s-file records `TIME STREAM F|P BYTES` (supervisor/logfile.c):
 * a line is the P records of a stream up to its F record. `logs` prints the
 * lines in order, stdout to stdout and stderr to stderr, with --tail,
 * --since and --timestamps, and with --follow keeps reading (across
 * rotations) until the VM has ended and everything written was read.
 */
import { closeSync, openSync, readSync, fstatSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { VM_FILES } from './state-dir.ts';

export interface LogRecord {
  time: string;
  stream: 'stdout' | 'stderr';
  /** P: the line continues in the stream's next record. */
  partial: boolean;
  bytes: Buffer;
}

const RECORD = /^(\S+) (stdout|stderr) ([FP]) $/;

/** Whole records in `buf`, and how many bytes they took (the rest is an incomplete record). */
export function parseLogRecords(buf: Buffer): { records: LogRecord[]; used: number } {
  const records: LogRecord[] = [];
  let pos = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) break;
    // The head is `TIME STREAM TAG ` (no spaces inside); the bytes may hold anything but newline.
    let sp = pos;
    for (let i = 0; i < 3 && sp >= 0; i++) sp = buf.indexOf(0x20, sp) + 1 || -1;
    const m = sp > 0 && sp <= nl + 1 ? RECORD.exec(buf.toString('latin1', pos, sp)) : null;
    if (m) records.push({ time: m[1], stream: m[2] as LogRecord['stream'], partial: m[3] === 'P', bytes: buf.subarray(sp, nl) });
    pos = nl + 1;
  }
  return { records, used: pos };
}

export interface LogLine {
  time: string;
  stream: LogRecord['stream'];
  bytes: Buffer;
  /** Ends with a newline (an F record). */
  complete: boolean;
}

/** Join each stream's P records with the F that ends them; unfinished lines come last. */
export function toLines(records: LogRecord[], pending = new Map<string, LogRecord[]>()): LogLine[] {
  const lines: LogLine[] = [];
  for (const r of records) {
    const parts = [...(pending.get(r.stream) ?? []), r];
    if (r.partial) {
      pending.set(r.stream, parts);
      continue;
    }
    pending.delete(r.stream);
    lines.push({ time: parts[0].time, stream: r.stream, bytes: Buffer.concat(parts.map((p) => p.bytes)), complete: true });
  }
  return lines;
}

export interface LogsOptions {
  tail?: number;
  /** Milliseconds since the epoch: lines from then on. */
  sinceMs?: number;
  timestamps: boolean;
}

export interface LogSink {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function writeLines(lines: LogLine[], o: LogsOptions, sink: LogSink): void {
  for (const l of lines) {
    if (o.sinceMs !== undefined && Date.parse(l.time) < o.sinceMs) continue;
    const out = l.stream === 'stdout' ? sink.stdout : sink.stderr;
    out.write(Buffer.concat([Buffer.from(o.timestamps ? `${l.time} ` : ''), l.bytes, Buffer.from(l.complete ? '\n' : '')]));
  }
}

/** A log file read incrementally; it notices when the supervisor rotated it away. */
class LogCursor {
  private fd?: number;
  private ino?: number;
  private offset = 0;
  private carry = Buffer.alloc(0);

  constructor(private readonly path: string) {}

  /** Records appended since the last call. */
  read(): LogRecord[] {
    if (this.fd === undefined) {
      try { this.fd = openSync(this.path, 'r'); } catch { return []; }
      this.ino = fstatSync(this.fd).ino;
    }
    const chunks: Buffer[] = [this.carry];
    const buf = Buffer.alloc(1 << 16);
    let n: number;
    while ((n = readSync(this.fd, buf, 0, buf.length, this.offset)) > 0) {
      chunks.push(Buffer.from(buf.subarray(0, n)));
      this.offset += n;
    }
    const all = Buffer.concat(chunks);
    const { records, used } = parseLogRecords(all);
    this.carry = all.subarray(used);
    return records;
  }

  /** The path now names another file (rotated): read the rest of ours, then start over on the new one. */
  rotated(): boolean {
    try { return this.ino !== undefined && statSync(this.path).ino !== this.ino; } catch { return this.ino !== undefined; }
  }

  reopen(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = this.ino = undefined;
    this.offset = 0;
    this.carry = Buffer.alloc(0);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
  }
}

/** Everything logged so far (the rotated file first), as lines. */
export function readAllLines(dir: string): LogLine[] {
  const records: LogRecord[] = [];
  for (const f of [VM_FILES.logOld, VM_FILES.log]) {
    const c = new LogCursor(join(dir, f));
    records.push(...c.read());
    c.close();
  }
  const pending = new Map<string, LogRecord[]>();
  const lines = toLines(records, pending);
  for (const parts of pending.values()) {
    lines.push({ time: parts[0].time, stream: parts[0].stream, bytes: Buffer.concat(parts.map((p) => p.bytes)), complete: false });
  }
  return lines;
}

/** Print what is logged, then (follow) what comes, until `ended()` and nothing more arrives. */
export async function printLogs(dir: string, o: LogsOptions, sink: LogSink, follow?: { ended: () => boolean; pollMs: number }): Promise<void> {
  if (!follow) {
    const lines = readAllLines(dir);
    writeLines(o.tail === undefined ? lines : lines.slice(Math.max(0, lines.length - o.tail)), o, sink);
    return;
  }
  const old = new LogCursor(join(dir, VM_FILES.logOld));
  const cur = new LogCursor(join(dir, VM_FILES.log));
  const pending = new Map<string, LogRecord[]>();
  const first = toLines([...old.read(), ...cur.read()], pending);
  old.close();
  writeLines(o.tail === undefined ? first : first.slice(Math.max(0, first.length - o.tail)), o, sink);
  for (;;) {
    const ended = follow.ended();
    const records = cur.read();
    if (cur.rotated()) {
      cur.reopen();
      records.push(...cur.read());
    }
    writeLines(toLines(records, pending), o, sink);
    if (ended && records.length === 0) break;
    await new Promise((r) => setTimeout(r, follow.pollMs));
  }
  cur.close();
}
