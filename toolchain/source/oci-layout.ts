/**
 * `oci:DIR[:TAG|@DIGEST]`: OCI image layout directories as image sources.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BadInputError } from '../errors/errors.ts';
import { Hints, withInputHint } from '../errors/hints.ts';
import { parseDigest, verifyStream } from '../digest/digest.ts';
import type { Descriptor } from '../image/descriptor.ts';
import { Annotation } from '../image/annotations.ts';
import { parseManifest } from '../image/manifest.ts';
import { MediaType } from '../image/media-types.ts';
import { resolveDescriptor, type RawBlobReader } from './content-store.ts';
import type { ImageSource, ResolveOptions, ResolvedImage } from './image-source.ts';

/**
 * The `oci-layout` file every image layout has (image-spec image-layout.md):
 * a JSON object whose imageLayoutVersion is 1.x; absent, not JSON, or
 * another major version is refused, since the rest could mean anything.
 */
export function checkLayoutVersion(bytes: Buffer | undefined, where: string): void {
  const hint = 'an OCI image layout has an oci-layout file {"imageLayoutVersion": "1.0.0"}; write the layout with skopeo copy, umoci or buildah';
  if (bytes === undefined) throw new BadInputError(`${where} has no oci-layout file`, { hint });
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new BadInputError(`${where}: oci-layout is not JSON`, { hint });
  }
  const version = (doc as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
  if (typeof version !== 'string') throw new BadInputError(`${where}: oci-layout has no imageLayoutVersion`, { hint });
  if (!/^1\.\d+(\.\d+)?$/.test(version)) {
    throw new BadInputError(`${where}: oci-layout has imageLayoutVersion ${JSON.stringify(version.slice(0, 40))}; hyperbuild reads version 1.x`, { hint: 'a newer hyperbuild may read it; or copy the image into a 1.0.0 layout with skopeo copy' });
  }
}

/** Pick the entry of an OCI layout's index.json named by tag or digest (or the only one). */
export function selectLayoutEntry(indexJson: Buffer, sel: { tag?: string; digest?: string }, where: string): Descriptor {
  const parsed = parseManifest(indexJson, MediaType.ociIndex, `${where} index.json`);
  if (parsed.kind !== 'index') throw new BadInputError(`${where}: index.json is not an image index`);
  const { index } = parsed;
  if (sel.digest) {
    parseDigest(sel.digest, `digest in reference ${where}`);
    const hit = index.manifests.find((m) => m.digest === sel.digest);
    if (!hit) throw new BadInputError(`${where}: index.json lists no manifest ${sel.digest}`);
    return hit;
  }
  const names = index.manifests.map((m) => m.annotations?.[Annotation.refName]).filter((n): n is string => !!n);
  if (sel.tag) {
    const hit = index.manifests.find((m) => m.annotations?.[Annotation.refName] === sel.tag);
    if (!hit) throw new BadInputError(`${where} has no image tagged '${sel.tag}'`, { hint: names.length ? `tags there: ${names.join(', ')}` : 'the layout has no tagged images' });
    return hit;
  }
  if (index.manifests.length === 1) return index.manifests[0];
  throw new BadInputError(`${where} holds ${index.manifests.length} images; say which one`, { hint: `append :TAG, one of: ${names.join(', ') || '(none tagged)'}` });
}

/** Where an OCI layout keeps blob `digest`: `DIR/blobs/ALG/HEX`. */
export function layoutBlobPath(dir: string, digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return join(dir, 'blobs', algorithm, hex);
}

/** Raw blob access to a layout directory or to blobs of an ingested archive. */
export function layoutBlobReader(dir: string): RawBlobReader {
  return (digest) => createReadStream(layoutBlobPath(dir, digest)) as AsyncIterable<Buffer>;
}

/** `oci:DIR[:TAG|@DIGEST]`: an OCI image layout directory, read in place. */
export class OciLayoutSource implements ImageSource {
  constructor(private readonly ref: { path: string; tag?: string; digest?: string; text: string }) {}

  resolve(opts: ResolveOptions): Promise<ResolvedImage> {
    return withInputHint(Hints.layout, () => this.resolveLayout(opts));
  }

  private async resolveLayout(opts: ResolveOptions): Promise<ResolvedImage> {
    const where = `OCI layout ${this.ref.path}`;
    let indexJson: Buffer;
    try {
      indexJson = await readFile(join(this.ref.path, 'index.json'));
    } catch (err) {
      throw new BadInputError(`${where}: cannot read index.json (${(err as NodeJS.ErrnoException).code ?? err})`, {
        hint: 'oci:DIR must name a directory in OCI image layout (with oci-layout and index.json)',
      });
    }
    checkLayoutVersion(await readFile(join(this.ref.path, 'oci-layout')).catch(() => undefined), where);
    const entry = selectLayoutEntry(indexJson, this.ref, where);
    const raw = verifiedFirst(wrapMissing(layoutBlobReader(this.ref.path), where), where);
    const image = await resolveDescriptor(raw, entry, { platform: opts.platform, reference: this.ref.text });
    const blobs = (image.blobDigests ?? []).map((d) => layoutBlobPath(this.ref.path, d));
    return { ...image, localFiles: [join(this.ref.path, 'index.json'), ...blobs, join(this.ref.path, 'oci-layout')] };
  }
}

/**
 * A layout's blobs are files anyone may have edited since they were written:
 * each is hashed whole before a byte of it reaches a parser, so a stale or
 * tampered blob is reported as the digest mismatch it is (not as whatever
 * the tar reader makes of it). A page-cached blob hashes in tens of ms.
 */
export function verifiedFirst(raw: RawBlobReader, where: string): RawBlobReader {
  return async function* (digest) {
    try {
      for await (const chunk of verifyStream(raw(digest), { digest, label: `blob ${digest} of ${where}` })) void chunk;
    } catch (err) {
      throw err instanceof BadInputError ? err.withHint(`the file ${layoutBlobPath('DIR', digest).slice(4)} changed after the layout was written: copy the image again (skopeo copy, umoci, docker save)`) : err;
    }
    yield* raw(digest);
  };
}

/** A missing blob file is bad input that names the blob, not an ENOENT stack. */
export function wrapMissing(raw: RawBlobReader, where: string): RawBlobReader {
  return async function* (digest) {
    try {
      yield* raw(digest);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BadInputError(`${where}: blob ${digest} is missing`);
      throw err;
    }
  };
}
