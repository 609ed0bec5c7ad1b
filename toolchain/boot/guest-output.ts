/**
 * The guest's output reaching the host: the app's stdout and stderr ports
 * copied to our streams (with backpressure, counting bytes so the guest link
 * can tell when announced output is in), and the serial console kept in a
 * ConsoleRing (shown live with --verbose).
 */
import type { Socket } from 'node:net';
import { ConsoleRing } from './console-ring.ts';

/** Copies a port's bytes to `out`, reporting each chunk's size, with backpressure. */
export function copyCounting(sock: Socket, out: NodeJS.WritableStream, onBytes: (n: number) => void): void {
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

/** Keeps the console's last lines; with `live`, also writes it to `live` as it comes. */
export function keepConsole(sock: Socket, live?: NodeJS.WritableStream): ConsoleRing {
  const ring = new ConsoleRing();
  sock.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    ring.push(text);
    live?.write(text);
  });
  sock.on('error', () => { /* VM exit is reported elsewhere */ });
  sock.resume();
  return ring;
}
