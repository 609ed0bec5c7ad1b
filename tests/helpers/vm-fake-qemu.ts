/**
 * A stand-in for QEMU under the VM supervisor (supervisor/), run as a
 * program: `node --import tsx tests/helpers/vm-fake-qemu.ts SCENARIO`. Like
 * QEMU it connects to the channel sockets in ./chan (its cwd is the VM's
 * state directory) and, like HyperStart, speaks the guest side of the
 * protocol (protocol.ts), so tests/vm-supervisor.test.ts checks the
 * supervisor's guest link, logs and status without a VM. Scenarios:
 *   exit CODE      H, (S), R, one stdout and one stderr line, X CODE, (B), exit 0
 *   partial        an unterminated stdout line, then exit 0 via X/B
 *   flood BYTES    BYTES of numbered stdout lines, then exit 0 via X/B
 *   ignore-term    H, R, then ignores K (the supervisor must kill it)
 *   obey-term      H, R, then on K 15 exits as killed by SIGTERM (X 143)
 *   crash          H, R, then the process exits without X
 *   old-version    H says `hyperstart 0`
 *   fail           H, S, then F (HyperStart failed) and stays until killed
 *   exec           H, R, then serves exec frames: N id → r, o stdout `ran ARGS`,
 *                  o stderr `id N`; e → x 9; k SIG → x 128+SIG; never exits itself
 * It prints what it received (frame types, K numbers) on its stderr, which is
 * supervisor.log.
 */
import { connect, type Socket } from 'node:net';
import {
  decodeSpecRecords, encodeExitPayload, encodeFrame, EXEC_ID_BYTES, EXEC_STREAM, FrameDecoder, HELLO_PAYLOAD, withExecId, type Frame,
} from '../../toolchain/hyperstart/protocol.ts';

const [scenario, arg] = process.argv.slice(2);

function open(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });
}

const [ctl, out, err, con] = await Promise.all(['ctl', 'out', 'err', 'con'].map((n) => open(`chan/${n}.sock`)));
const decoder = new FrameDecoder();
const queue: Frame[] = [];
const waiting: ((f: Frame) => void)[] = [];
ctl.on('data', (c: Buffer) => {
  for (const f of decoder.push(c)) {
    process.stderr.write(`fake-qemu: got ${f.type}${f.type === 'K' ? ` ${f.payload.readUInt32BE(0)}` : ''}\n`);
    const w = waiting.shift();
    if (w) w(f); else queue.push(f);
  }
});
const next = (): Promise<Frame> => new Promise((resolve) => { const f = queue.shift(); if (f) resolve(f); else waiting.push(resolve); });
async function until(type: string): Promise<Frame> {
  for (;;) { const f = await next(); if (f.type === type) return f; }
}
const send = (type: 'H' | 'R' | 'X' | 'F' | 'r' | 'o' | 'x', payload?: Buffer) => ctl.write(encodeFrame(type, payload));
const counts = { out: 0, err: 0 };
const write = (s: Socket, which: 'out' | 'err', text: string) => { counts[which] += Buffer.byteLength(text); s.write(text); };

async function finish(code: number): Promise<never> {
  send('X', encodeExitPayload({ code, stdoutBytes: counts.out, stderrBytes: counts.err }));
  await until('B');
  for (const s of [ctl, out, err, con]) s.end();
  setTimeout(() => process.exit(0), 50);
  return new Promise(() => {});
}

con.write('fake console: booting\n');
send('H', Buffer.from(scenario === 'old-version' ? 'hyperstart 0' : HELLO_PAYLOAD));
if (scenario === 'old-version') await new Promise(() => {});
const spec = await until('S');
process.stderr.write(`fake-qemu: spec args ${JSON.stringify(decodeSpecRecords(spec.payload).filter((r) => r.key === 'arg').map((r) => r.value.toString()))}\n`);
if (scenario === 'fail') {
  send('F', Buffer.from('mount /proc: no such device'));
  await new Promise(() => {});
}
send('R');
switch (scenario) {
  case 'exit':
    write(out, 'out', 'to stdout\n');
    write(err, 'err', 'to stderr\n');
    await finish(Number(arg));
    break;
  case 'partial':
    write(out, 'out', 'no newline at the end');
    await finish(0);
    break;
  case 'flood': {
    let text = '';
    for (let i = 0; text.length < Number(arg); i++) text += `line ${i}\n`;
    write(out, 'out', text);
    await finish(0);
    break;
  }
  case 'obey-term': {
    const k = await until('K');
    await finish(128 + k.payload.readUInt32BE(0));
    break;
  }
  case 'exec':
    for (;;) {
      const f = await next();
      if (f.payload.length < EXEC_ID_BYTES) continue;
      const id = f.payload.readUInt32BE(0);
      const code = (n: number) => { const c = Buffer.alloc(4); c.writeUInt32BE(n); return withExecId(id, c); };
      if (f.type === 'N') {
        const args = decodeSpecRecords(f.payload.subarray(EXEC_ID_BYTES)).filter((r) => r.key === 'arg').map((r) => r.value.toString());
        send('r', withExecId(id));
        send('o', withExecId(id, Buffer.concat([Buffer.from([EXEC_STREAM.stdout]), Buffer.from(`ran ${args.join(' ')}\n`)])));
        send('o', withExecId(id, Buffer.concat([Buffer.from([EXEC_STREAM.stderr]), Buffer.from(`id ${id}\n`)])));
      } else if (f.type === 'e') {
        send('x', code(9));
      } else if (f.type === 'k') {
        send('x', code(128 + f.payload.readUInt32BE(EXEC_ID_BYTES)));
      }
    }
  case 'crash':
    setTimeout(() => process.exit(3), 100);
    break;
  default: // ignore-term: wait to be killed
    await new Promise(() => {});
}
