/**
 * The host terminal in `-t` mode: raw, so every keystroke (Ctrl-C included)
 * goes to the guest's pty, which does its own line discipline. Restored on every
 * exit path: the normal one, errors, signals, and process 'exit' as a last net.
 */
import type { ReadStream } from 'node:tty';

export class RawTerminal {
  private restored = false;
  private readonly onExit = () => this.restore();

  private constructor(private readonly input: ReadStream) {
    process.on('exit', this.onExit);
  }

  /** Raw mode on a TTY stdin; undefined when stdin is not a terminal (nothing to do). */
  static enter(input: NodeJS.ReadStream = process.stdin): RawTerminal | undefined {
    const tty = input as ReadStream;
    if (!tty.isTTY || typeof tty.setRawMode !== 'function') return undefined;
    tty.setRawMode(true);
    return new RawTerminal(tty);
  }

  restore(): void {
    if (this.restored) return;
    this.restored = true;
    process.off('exit', this.onExit);
    try { this.input.setRawMode(false); } catch { /* terminal already gone */ }
  }
}

/** Rows and columns of the host terminal, when stdout is one. */
export function terminalSize(out: NodeJS.WriteStream = process.stdout): { rows: number; cols: number } | undefined {
  return out.isTTY && out.rows && out.columns ? { rows: out.rows, cols: out.columns } : undefined;
}
