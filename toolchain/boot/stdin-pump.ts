/**
 * `-i`: the host's stdin to the app as `I` frames on the control port, paused
 * while the port is full, ended with `E` — or, on a terminal (`-t`, which has
 * no EOF of its own and where HyperStart ignores `E`), with the ^D a user at
 * the keyboard would type. In `-t` mode the host terminal goes raw for the
 * run (terminal.ts restores it on every exit path).
 */
import type { Socket } from 'node:net';
import { encodeFrame } from '../hyperstart/protocol.ts';
import { RawTerminal } from './terminal.ts';

const STDIN_CHUNK = 64 * 1024;

/** The frames stdin travels in: the app's `I`/`E`, or an exec's `i`/`e` (toolchain/vm/exec-client.ts). */
export interface StdinFrames { input: 'I' | 'i'; eof: 'E' | 'e' }

/** Starts forwarding; returns the function that stops it and restores the terminal. */
export function forwardStdin(stdin: NodeJS.ReadStream, ctl: Socket, tty: boolean, frames: StdinFrames = { input: 'I', eof: 'E' }): () => void {
  const terminal = tty ? RawTerminal.enter(stdin) : undefined;
  const send = (frame: Buffer) => { if (!ctl.destroyed) ctl.write(frame); };
  const onData = (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i += STDIN_CHUNK) {
      if (!ctl.write(encodeFrame(frames.input, chunk.subarray(i, i + STDIN_CHUNK)))) {
        stdin.pause();
        ctl.once('drain', () => stdin.resume());
      }
    }
  };
  const onEnd = () => send(tty ? encodeFrame(frames.input, Buffer.from([0x04])) : encodeFrame(frames.eof));
  stdin.on('data', onData);
  stdin.once('end', onEnd);
  stdin.resume();
  return () => {
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.pause();
    terminal?.restore();
  };
}
