/**
 * The serial console's last lines. Kernel and HyperStart diagnostics are noise on
 * success and the only clue on failure, so they are kept, not shown (unless
 * --verbose), and printed when the VM dies without a clean exit.
 */
export class ConsoleRing {
  private lines: string[] = [];
  private partial = '';

  constructor(private readonly capacity = 50) {}

  push(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
    // A console that never sends a newline must not grow without bound.
    if (this.partial.length > 4096) {
      this.add(this.partial);
      this.partial = '';
    }
  }

  private add(line: string): void {
    // Firmware paints the screen with escape sequences; keep the text, drop the paint.
    this.lines.push(line.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[A-Za-z]|\r/g, ''));
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }

  /** The kept lines, oldest first, including an unfinished last line. */
  tail(): string[] {
    const out = [...this.lines];
    if (this.partial) out.push(this.partial.replace(/\r/g, ''));
    return out.slice(-this.capacity);
  }
}
