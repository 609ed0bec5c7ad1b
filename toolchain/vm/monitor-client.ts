/**
 * The client side of a supervisor's monitor.sock (supervisor/clients.c): one
 * request line per connection, answers as lines. A supervisor that has
 * already ended has no socket (or closes it unanswered): callers then read
 * the exit from status.json.
 */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { VM_FILES } from './state-dir.ts';

export type MonitorRequest = `stop ${number}` | `kill ${number}` | 'wait' | 'exec';

/** Connect to the VM's supervisor, or undefined when it is not listening (ended, or never detached). */
export function connectMonitor(dir: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const sock = connect(join(dir, VM_FILES.monitor));
    sock.once('connect', () => { sock.off('error', fail); resolve(sock); });
    const fail = () => { sock.destroy(); resolve(undefined); };
    sock.once('error', fail);
  });
}

/**
 * Send `request` and collect answer lines until `enough(lines)` says so or
 * the supervisor closes the connection. Undefined when nobody listens.
 */
export async function askMonitor(dir: string, request: MonitorRequest, enough: (lines: string[]) => boolean): Promise<string[] | undefined> {
  const sock = await connectMonitor(dir);
  if (!sock) return undefined;
  return new Promise((resolve) => {
    let text = '';
    const lines: string[] = [];
    const done = () => { sock.destroy(); resolve(lines); };
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      text += d;
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        lines.push(text.slice(0, nl));
        text = text.slice(nl + 1);
      }
      if (enough(lines)) done();
    });
    sock.on('error', done);
    sock.on('close', done);
    sock.write(`${request}\n`);
  });
}

/** The code in an `exit CODE` answer line. */
export function exitLine(lines: string[]): number | undefined {
  const m = lines.map((l) => /^exit (-?\d+)$/.exec(l)).find(Boolean);
  return m ? Number(m[1]) : undefined;
}
