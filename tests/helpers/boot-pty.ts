/**
 * Runs a command on a fresh pseudo-terminal of a given size (Node has no pty
 * API; Python's pty module does the fork/openpty), types keys once the output
 * shows READY, and reports the output, the exit status, and whether the
 * terminal was seen in raw (non-canonical) mode meanwhile.
 */
import { spawn } from 'node:child_process';

const DRIVER = String.raw`
import json, os, pty, select, struct, sys, termios, fcntl, time
rows, cols, keys, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
before = termios.tcgetattr(fd)
out, sent, t0, raw_seen = b'', False, time.time(), False
while True:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not raw_seen:
        raw_seen = not (termios.tcgetattr(fd)[3] & termios.ICANON)
    if fd in r:
        try:
            d = os.read(fd, 65536)
        except OSError:
            break
        if not d:
            break
        out += d
    if not sent and b'READY' in out:
        time.sleep(0.3)
        os.write(fd, keys)
        sent = True
    if time.time() - t0 > 150:
        os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
print(json.dumps({'output': out.decode('utf8', 'replace'), 'code': os.waitstatus_to_exitcode(status), 'rawSeen': raw_seen}))
`;

export interface PtyRun { output: string; code: number; rawSeen: boolean }

export function runOnPty(argv: string[], o: { rows: number; cols: number; keys: string }): Promise<PtyRun> {
  const child = spawn('python3', ['-c', DRIVER, String(o.rows), String(o.cols), o.keys, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  return new Promise((resolve, reject) => child.on('close', () => {
    try {
      resolve(JSON.parse(out) as PtyRun);
    } catch (err) {
      reject(new Error(`pty driver: ${String(err)}: ${out.slice(0, 500)}`));
    }
  }));
}
