/**
 * Reading blobs by digest (raw, from a layout or the cache) and following
 * descriptors from an index to one verified, buildable image.
 */
import { createReadStream } from 'node:fs';
import type { BlobStore } from '../cache/blob-store.ts';
import { BadInputError } from '../errors/errors.ts';
import { Hints, withInputHint } from '../errors/hints.ts';
import { verifyStream } from '../digest/digest.ts';
import type { Descriptor } from '../image/descriptor.ts';
import { parseImageConfig } from '../image/image-config.ts';
import { MAX_MANIFEST_BYTES } from '../image/json-document.ts';
import { assertBuildableImage, assertDescribedAs, parseManifest, type ImageManifest } from '../image/manifest.ts';
import { formatPlatform, platformMatches, type Platform } from '../image/platform.ts';
import { selectPlatform } from '../image/platform-select.ts';
import type { ResolvedImage } from './image-source.ts';
import type { TarMember } from '../tar/reader.ts';

/** A layer's tar members; the layer reader (tar, decompressors) loads only when a build reads layers, never on a no-op. */
async function* layerMembers(blob: AsyncIterable<Buffer>, desc: Descriptor, diffId: string, label: string): AsyncIterable<TarMember> {
  const { readLayer } = await import('../layers/layer-reader.ts');
  yield* readLayer(blob, desc, diffId, label);
}

/** Raw (unverified) access to blobs by digest; resolution verifies everything it reads. */
export type RawBlobReader = (digest: string) => AsyncIterable<Buffer>;

/** Blobs of the content-addressed cache (pulled or ingested earlier). */
export function storeReader(store: BlobStore): RawBlobReader {
  return (digest) => createReadStream(store.path(digest)) as AsyncIterable<Buffer>;
}

export async function readSmallBlob(raw: RawBlobReader, desc: Descriptor, what: string): Promise<Buffer> {
  if (desc.size > MAX_MANIFEST_BYTES) throw new BadInputError(`${what} ${desc.digest} claims ${desc.size} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
  const chunks: Buffer[] = [];
  for await (const c of verifyStream(raw(desc.digest), { digest: desc.digest, size: desc.size, label: `${what} ${desc.digest}` })) chunks.push(c);
  return Buffer.concat(chunks);
}

/**
 * Follow a descriptor (index → platform manifest → config) to one buildable
 * image. Shared by every source that can read blobs by digest. An error in
 * the documents carries the document hint unless its throw site gave one.
 */
export function resolveDescriptor(raw: RawBlobReader, start: Descriptor, opts: { platform: Platform; reference: string; contentKey?: string }): Promise<ResolvedImage> {
  return withInputHint(Hints.document, () => followDescriptor(raw, start, opts));
}

async function followDescriptor(
  raw: RawBlobReader,
  start: Descriptor,
  opts: { platform: Platform; reference: string; contentKey?: string },
): Promise<ResolvedImage> {
  let desc = start;
  let manifest: ImageManifest | undefined;
  const followed: string[] = [];
  for (let depth = 0; depth < 4 && !manifest; depth++) {
    followed.push(desc.digest);
    const where = `manifest ${desc.digest} of ${opts.reference}`;
    const parsed = parseManifest(await readSmallBlob(raw, desc, 'manifest'), desc.mediaType, where);
    assertDescribedAs(parsed, desc.mediaType, where);
    if (parsed.kind === 'index') desc = selectPlatform(parsed.index, opts.platform, `index ${desc.digest} of ${opts.reference}`);
    else manifest = parsed.manifest;
  }
  if (!manifest) throw new BadInputError(`${opts.reference}: indexes nest too deeply`);
  const where = `image ${opts.reference} (manifest ${desc.digest})`;
  assertBuildableImage(manifest, where);
  const configBytes = await readSmallBlob(raw, manifest.config, 'config');
  const config = parseImageConfig(configBytes, `config ${manifest.config.digest} of ${opts.reference}`);
  const want = opts.platform;
  const have = config.platform;
  if (!platformMatches(want, have)) {
    throw new BadInputError(`${where} is for platform ${formatPlatform(have)}, not ${formatPlatform(want)}`, {
      hint: `available platforms: ${formatPlatform(have)}; choose it with --platform ${formatPlatform(have)}`,
    });
  }
  if (config.diffIds.length !== manifest.layers.length) {
    throw new BadInputError(`${where}: the manifest has ${manifest.layers.length} layers but the config lists ${config.diffIds.length} diff_ids`);
  }
  const readBlob = (d: Descriptor) => verifyStream(raw(d.digest), { digest: d.digest, size: d.size, label: `blob ${d.digest} of ${opts.reference}` });
  return {
    reference: opts.reference,
    manifestDigest: desc.digest,
    configDigest: manifest.config.digest,
    config,
    layers: () =>
      manifest!.layers.map((desc, i) => {
        const label = `layer ${i + 1}/${manifest!.layers.length} ${desc.digest} of ${opts.reference}`;
        const diffId = config.diffIds[i];
        return { label, members: () => layerMembers(readBlob(desc), desc, diffId, label), diffId };
      }),
    contentKey: opts.contentKey ?? desc.digest,
    blobDigests: [...followed, manifest.config.digest, ...manifest.layers.map((l) => l.digest)],
  };
}
