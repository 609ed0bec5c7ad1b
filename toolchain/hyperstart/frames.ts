/**
 * Control frames on the control port (ports.ts) (initramfs/hyperstart/PROTOCOL.md):
 * `TYPE (1 byte) LEN (u32 BE) PAYLOAD`, and the K, W and X payload layouts.
 * Only this channel is ever parsed; the app's stdout/stderr travel on their
 * own ports as raw bytes. The guest's mirror is initramfs/hyperstart/protocol.{h,c}.
 */
export const FRAME_HEADER_BYTES = 5;
/** No legitimate frame comes near this; a bigger LEN means the stream is corrupt. */
export const MAX_FRAME_PAYLOAD = 16 * 1024 * 1024;

/** Guest → host: hello, ready, exit, failure; exec started, output, exit (protocol.h enum hs_frame_type). */
export const GUEST_FRAME_TYPES = ['H', 'R', 'X', 'F', 'r', 'o', 'x'] as const;
/** Host → guest: spec, kill, window size, input, EOF, bye; exec new, input, EOF, kill, window size. */
export const HOST_FRAME_TYPES = ['S', 'K', 'W', 'I', 'E', 'B', 'N', 'i', 'e', 'k', 'w'] as const;
/** Exec frames (PROTOCOL.md "Exec") start their payload with the exec id, u32 BE. */
export const EXEC_ID_BYTES = 4;
/** The stream byte of an `o` frame. */
export const EXEC_STREAM = { stdout: 1, stderr: 2 } as const;
export type GuestFrameType = (typeof GUEST_FRAME_TYPES)[number];
export type HostFrameType = (typeof HOST_FRAME_TYPES)[number];

export interface Frame {
  type: string;
  payload: Buffer;
}

export function encodeFrame(type: HostFrameType | GuestFrameType, payload: Buffer = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_FRAME_PAYLOAD) throw new Error(`control frame '${type}' too large: ${payload.length} bytes`);
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

/** `K` payload: signal number, u32 BE. */
export function encodeSignalPayload(signal: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(signal);
  return p;
}

/** `K`: deliver signal N to the app's process group. */
export function signalFrame(signal: number): Buffer {
  return encodeFrame('K', encodeSignalPayload(signal));
}

/** `W` payload: rows u16 BE, cols u16 BE (clamped to 0..65535). */
export function encodeWindowSizePayload(rows: number, cols: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt16BE(Math.max(0, Math.min(0xffff, rows)), 0);
  p.writeUInt16BE(Math.max(0, Math.min(0xffff, cols)), 2);
  return p;
}

/** `W`: terminal size, tty mode only. */
export function windowSizeFrame(rows: number, cols: number): Buffer {
  return encodeFrame('W', encodeWindowSizePayload(rows, cols));
}

/** An exec frame's payload: the id, then the frame's own payload (the supervisor adds and strips ids). */
export function withExecId(id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const p = Buffer.alloc(EXEC_ID_BYTES);
  p.writeUInt32BE(id);
  return Buffer.concat([p, payload]);
}

export interface ExitReport {
  code: number;
  stdoutBytes: number;
  stderrBytes: number;
}

/** `X`: code u32, stdout bytes u64, stderr bytes u64 (all BE). */
export function decodeExitPayload(payload: Buffer): ExitReport {
  if (payload.length !== 20) throw new Error(`malformed X frame: ${payload.length} payload bytes, expected 20`);
  return {
    code: payload.readUInt32BE(0),
    stdoutBytes: Number(payload.readBigUInt64BE(4)),
    stderrBytes: Number(payload.readBigUInt64BE(12)),
  };
}

export function encodeExitPayload(r: ExitReport): Buffer {
  const p = Buffer.alloc(20);
  p.writeUInt32BE(r.code, 0);
  p.writeBigUInt64BE(BigInt(r.stdoutBytes), 4);
  p.writeBigUInt64BE(BigInt(r.stderrBytes), 12);
  return p;
}

/**
 * Incremental decoder: feed it whatever chunks the socket delivers (a frame may
 * arrive one byte at a time, or several in one chunk) and it returns whole frames.
 */
export class FrameDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  push(chunk: Buffer): Frame[] {
    if (chunk.length) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
    }
    const frames: Frame[] = [];
    for (;;) {
      if (this.pendingBytes < FRAME_HEADER_BYTES) break;
      const head = this.peek(FRAME_HEADER_BYTES);
      const len = head.readUInt32BE(1);
      if (len > MAX_FRAME_PAYLOAD) {
        throw new Error(`corrupt control stream: frame '${head.toString('latin1', 0, 1)}' claims ${len} bytes`);
      }
      if (this.pendingBytes < FRAME_HEADER_BYTES + len) break;
      const whole = this.take(FRAME_HEADER_BYTES + len);
      frames.push({ type: whole.toString('latin1', 0, 1), payload: whole.subarray(FRAME_HEADER_BYTES) });
    }
    return frames;
  }

  /** Bytes of an incomplete frame still buffered (non-zero at EOF means truncation). */
  get buffered(): number {
    return this.pendingBytes;
  }

  private peek(n: number): Buffer {
    if (this.pending[0].length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    const out = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    return out;
  }
}
