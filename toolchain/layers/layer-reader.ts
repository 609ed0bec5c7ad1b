/**
 * One image layer as tar members: the blob's compression told by its bytes
 * (checked against the media type), decompressed, and verified against both
 * the blob digest and the config's diff_id on the way.
 */
import { BadInputError } from '../errors/errors.ts';
import { Hints, hintedMembers } from '../errors/hints.ts';
import { verifyStream } from '../digest/digest.ts';
import type { Descriptor } from '../image/descriptor.ts';
import { layerCompression, type LayerCompression } from '../image/media-types.ts';
import { decompress } from '../compress/decompress.ts';
import { SNIFF_BYTES, sniffCompression } from '../compress/detect.ts';
import { readTar, type TarMember } from '../tar/reader.ts';

/** Compression by magic bytes (layers from `docker save` are labelled plain tar whatever they are); only what OCI layers may use. */
function sniff(first: Buffer, label: string): LayerCompression {
  const kind = sniffCompression(first);
  if (kind === 'none' || kind === 'gzip' || kind === 'zstd') return kind;
  throw new BadInputError(`${label}: the content is ${kind}-compressed; image layers are tar, gzip or zstd`);
}

/** Re-yield a stream after peeking at its first bytes. */
async function peek(source: AsyncIterable<Buffer>, n: number): Promise<{ head: Buffer; stream: AsyncIterable<Buffer> }> {
  const it = source[Symbol.asyncIterator]();
  const buffered: Buffer[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    buffered.push(r.value);
    have += r.value.length;
  }
  const head = Buffer.concat(buffered);
  async function* rest() {
    if (head.length) yield head;
    if (done) return;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  return { head, stream: rest() };
}

/**
 * The tar members of one layer: the blob verified against its digest, then
 * decompressed and verified against the config's diff_id, all as one stream.
 * The digests are only known to be right when the last member has been read.
 * Every error names the layer (`label`) and carries the layer hint.
 */
export function readLayer(blob: AsyncIterable<Buffer>, desc: Descriptor, diffId: string, label: string): AsyncGenerator<TarMember> {
  return hintedMembers(Hints.layer, layerMembers(blob, desc, diffId, label));
}

async function* layerMembers(blob: AsyncIterable<Buffer>, desc: Descriptor, diffId: string, label: string): AsyncGenerator<TarMember> {
  const declared = layerCompression(desc.mediaType) ?? 'none';
  const { head, stream } = await peek(blob, SNIFF_BYTES);
  const actual = sniff(head, label);
  // Docker's plain-tar type is sniffed (docker save writes it for whatever it holds); an OCI type must be true.
  const strict = declared !== 'none' || desc.mediaType.startsWith('application/vnd.oci.');
  if (strict && actual !== declared) {
    throw new BadInputError(`${label}: media type ${desc.mediaType} says ${declared === 'none' ? 'uncompressed tar' : declared} but the content is ${actual === 'none' ? 'not compressed' : actual}`, {
      hint: 'the manifest must give each layer the media type of its bytes; rebuild or re-push the image with a standard tool',
    });
  }
  const tarBytes = actual === 'none' ? stream : decompress(actual, stream, label);
  const verified = verifyStream(tarBytes, { digest: diffId, label: `${label} (uncompressed, diff_id)` })[Symbol.asyncIterator]();
  // The tar reader stops at the end-of-archive marker; shield the stream from
  // being closed there so we can drain the tail and let the diff_id check run.
  const shielded: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next: () => verified.next() }) };
  yield* readTar(shielded, label);
  for (let r = await verified.next(); !r.done; r = await verified.next()) {
    // trailing zero blocks: only their digest matters
  }
}
