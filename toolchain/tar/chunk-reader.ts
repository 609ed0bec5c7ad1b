/**
 * Pull-based view of an async stream of Buffers whose chunk boundaries carry
 * no meaning (1 byte to many MiB). Tar parsing needs "exactly 512 bytes" for
 * headers but only "whatever is there, up to N" for bodies; the latter hands
 * out slices of the source chunks so file bodies are never copied.
 */
const EMPTY = Buffer.alloc(0);

export class ChunkReader {
  private readonly iterator: AsyncIterator<Buffer>;
  /** Chunks not yet consumed start at pending[head]; an index, not shift(), keeps 1-byte chunks linear. */
  private pending: Buffer[] = [];
  private head = 0;
  private pendingBytes = 0;
  private ended = false;
  /** Bytes handed out or skipped so far: the archive offset of the next byte. */
  offset = 0;

  constructor(source: AsyncIterable<Buffer>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Loads one more non-empty chunk; false at end of stream. */
  private async fill(): Promise<boolean> {
    while (!this.ended) {
      const next = await this.iterator.next();
      if (next.done) {
        this.ended = true;
        return false;
      }
      const chunk = next.value;
      if (!Buffer.isBuffer(chunk)) {
        // Guards against a caller feeding strings, which would silently re-encode bytes.
        throw new TypeError('tar source must yield Buffers');
      }
      if (chunk.length === 0) continue;
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      return true;
    }
    return false;
  }

  /**
   * Exactly n bytes, or fewer only if the stream ends first (the caller decides
   * whether a short read is a clean end or a truncation). Copies only when the
   * bytes span chunks.
   */
  async readExact(n: number): Promise<Buffer> {
    while (this.pendingBytes < n) {
      if (!(await this.fill())) break;
    }
    const take = Math.min(n, this.pendingBytes);
    const first = this.pending[this.head];
    let out: Buffer;
    if (first !== undefined && first.length >= take) {
      out = first.subarray(0, take);
      this.consumeFront(take);
    } else {
      out = Buffer.allocUnsafe(take);
      let filled = 0;
      while (filled < take) {
        const chunk = this.pending[this.head]!;
        const part = Math.min(chunk.length, take - filled);
        chunk.copy(out, filled, 0, part);
        filled += part;
        this.consumeFront(part);
      }
    }
    return out;
  }

  /** Up to max bytes without copying (a slice of one chunk); empty at end of stream. */
  async readSome(max: number): Promise<Buffer> {
    if (max <= 0) return Buffer.alloc(0);
    if (this.pendingBytes === 0 && !(await this.fill())) return Buffer.alloc(0);
    const first = this.pending[this.head]!;
    const take = Math.min(max, first.length);
    const out = first.subarray(0, take);
    this.consumeFront(take);
    return out;
  }

  /** Discards up to n bytes; returns how many were actually skipped. */
  async skip(n: number): Promise<number> {
    let skipped = 0;
    while (skipped < n) {
      const part = await this.readSome(n - skipped);
      if (part.length === 0) break;
      skipped += part.length;
    }
    return skipped;
  }

  /** Reads and discards everything left, so upstream hashing/verification sees the whole stream. */
  async drain(): Promise<void> {
    this.offset += this.pendingBytes;
    this.clear();
    while (await this.fill()) {
      this.offset += this.pendingBytes;
      this.clear();
    }
  }

  /** Releases the source early (consumer stopped iterating). */
  async close(): Promise<void> {
    this.clear();
    if (!this.ended) {
      this.ended = true;
      await this.iterator.return?.();
    }
  }

  private consumeFront(n: number): void {
    const first = this.pending[this.head]!;
    this.pendingBytes -= n;
    this.offset += n;
    if (n === first.length) {
      this.pending[this.head] = EMPTY;
      this.head++;
      if (this.head === this.pending.length) this.clear();
      else if (this.head >= 1024 && this.head * 2 >= this.pending.length) {
        this.pending = this.pending.slice(this.head);
        this.head = 0;
      }
    } else {
      this.pending[this.head] = first.subarray(n);
    }
  }

  private clear(): void {
    this.pending = [];
    this.head = 0;
    this.pendingBytes = 0;
  }
}
