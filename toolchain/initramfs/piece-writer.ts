/**
 * The bytes of archive pieces (assemble.ts): headers, padding and file
 * contents read straight into 1 MiB blocks from where the tree keeps them
 * (tree/content.ts), handed to a sink (a compressor, a file) that says when
 * each block may be filled again, so a writer cycles a few blocks and memory
 * stays flat whatever the image's size.
 */
import { ContentReader } from '../tree/content.ts';
import type { RootfsTree } from '../tree/rootfs-tree.ts';
import { planPieces, type ArchivePiece, type AssembleOptions } from './assemble.ts';

/** Size of the blocks handed to a sink. */
export const PIECE_BLOCK = 1 << 20;
/** Blocks one writer may have with its sink at once. */
const IN_FLIGHT = 4;

/** Where bytes go: `write` resolves when the block may be filled again (compress/file-sink.ts). */
export interface BlockSink {
  write(block: Buffer): Promise<void>;
}

/** Spare blocks, shared by the writers of one build. */
export class BlockPool {
  private readonly free: Buffer[] = [];

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(PIECE_BLOCK);
  }

  give(block: Buffer): void {
    this.free.push(block);
  }
}

/** Fills blocks and sends each full one to the sink, waiting when IN_FLIGHT are out. */
class BlockWriter {
  private block: Buffer | undefined;
  private used = 0;
  private readonly busy: Promise<void>[] = [];

  constructor(private readonly sink: BlockSink, private readonly pool: BlockPool) {}

  private async send(bytes: Buffer, whole: Buffer): Promise<void> {
    const given = this.sink.write(bytes).then(() => this.pool.give(whole));
    given.catch(() => undefined);
    this.busy.push(given);
    if (this.busy.length > IN_FLIGHT) await this.busy.shift();
  }

  /** The free part of the current block. */
  room(): { block: Buffer; offset: number; length: number } {
    this.block ??= this.pool.take();
    return { block: this.block, offset: this.used, length: PIECE_BLOCK - this.used };
  }

  /** `n` bytes of the room were filled. */
  async advance(n: number): Promise<void> {
    this.used += n;
    if (this.used < PIECE_BLOCK) return;
    const full = this.block!;
    this.block = undefined;
    this.used = 0;
    await this.send(full, full);
  }

  async put(bytes: Buffer): Promise<void> {
    for (let at = 0; at < bytes.length; ) {
      const { block, offset, length } = this.room();
      const n = Math.min(length, bytes.length - at);
      bytes.copy(block, offset, at, at + n);
      at += n;
      await this.advance(n);
    }
  }

  /** Send the partial block and wait until the sink has everything. */
  async finish(): Promise<void> {
    if (this.block && this.used > 0) await this.send(this.block.subarray(0, this.used), this.block);
    else if (this.block) this.pool.give(this.block);
    this.block = undefined;
    await Promise.all(this.busy.splice(0));
  }
}

/** One piece's bytes into `out`. */
async function putPiece(out: BlockWriter, reader: ContentReader, piece: ArchivePiece): Promise<void> {
  for (const { head, inode, bodySize, pad } of piece.entries) {
    await out.put(head);
    if (inode.kind === 'symlink') {
      await out.put(Buffer.from(inode.target, 'latin1'));
    } else {
      for (let at = 0; at < bodySize; ) {
        const { block, offset, length } = out.room();
        const n = Math.min(length, bodySize - at);
        reader.readInto(inode, at, block, offset, n);
        at += n;
        await out.advance(n);
      }
    }
    await out.put(pad);
  }
  if (piece.tail) await out.put(piece.tail);
}

/** The bytes of one piece into `sink`; resolves when the sink has them all. */
export async function writePiece(piece: ArchivePiece, sink: BlockSink, reader: ContentReader, pool: BlockPool): Promise<void> {
  const out = new BlockWriter(sink, pool);
  await putPiece(out, reader, piece);
  await out.finish();
}

/** The whole initramfs (uncompressed newc) into one sink; returns the archive's size. */
export async function assembleInto(tree: RootfsTree, sink: BlockSink, opts: AssembleOptions = {}): Promise<number> {
  const reader = new ContentReader();
  const out = new BlockWriter(sink, new BlockPool());
  let size = 0;
  try {
    for (const piece of planPieces(tree, opts)) {
      await putPiece(out, reader, piece);
      size += piece.size;
    }
    await out.finish();
  } finally {
    reader.close();
  }
  return size;
}
