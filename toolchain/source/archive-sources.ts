/**
 * Image archives as image sources: `oci-archive:` (a tar of an OCI layout) and
 * `docker-archive:` (`docker save` output, both flavours).
 */
import { BlobStore } from '../cache/blob-store.ts';
import { BadInputError } from '../errors/errors.ts';
import { Hints, withInputHint } from '../errors/hints.ts';
import { parseDigest } from '../digest/digest.ts';
import { isRecord, parseJsonDocument } from '../image/json-document.ts';
import { MediaType } from '../image/media-types.ts';
import { openArchive, type ArchiveContents } from './archive-ingest.ts';
import { resolveDescriptor, storeReader, type RawBlobReader } from './content-store.ts';
import type { ImageSource, ResolveOptions, ResolvedImage } from './image-source.ts';
import { checkLayoutVersion, selectLayoutEntry } from './oci-layout.ts';

/** Blob `D` of an OCI layout inside an archive is the member `blobs/ALG/HEX`. */
function archivedLayoutReader(contents: ArchiveContents, store: BlobStore, where: string): RawBlobReader {
  return (digest) => {
    const { algorithm, hex } = parseDigest(digest);
    const stored = contents.blobs.get(`blobs/${algorithm}/${hex}`);
    if (!stored) throw new BadInputError(`${where}: blob ${digest} is missing`, { hint: Hints.archive });
    if (stored !== digest) throw new BadInputError(`${where}: member blobs/${algorithm}/${hex} does not match its digest (it hashes to ${stored})`, { hint: Hints.archive });
    return storeReader(store)(digest);
  };
}

/** `oci-archive:FILE[:TAG]`: a tar of an OCI image layout. */
export class OciArchiveSource implements ImageSource {
  constructor(private readonly ref: { path: string; tag?: string; text: string }) {}

  resolve(opts: ResolveOptions): Promise<ResolvedImage> {
    return withInputHint(Hints.archive, () => this.resolveArchive(opts));
  }

  private async resolveArchive(opts: ResolveOptions): Promise<ResolvedImage> {
    const where = `OCI archive ${this.ref.path}`;
    const { contents, store } = await openArchive(this.ref.path, opts.cacheDir);
    const indexJson = contents.json.get('index.json');
    if (!indexJson) throw new BadInputError(`${where} has no index.json`, { hint: 'is it a docker-archive? use docker-archive:FILE' });
    checkLayoutVersion(contents.json.get('oci-layout'), where);
    const entry = selectLayoutEntry(indexJson, { tag: this.ref.tag }, where);
    const image = await resolveDescriptor(archivedLayoutReader(contents, store, where), entry, { platform: opts.platform, reference: this.ref.text });
    return { ...image, localFiles: [this.ref.path] };
  }
}

interface SaveEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function parseSaveManifest(bytes: Buffer, where: string): SaveEntry[] {
  const doc = parseJsonDocument(bytes, `${where}: manifest.json`);
  if (!Array.isArray(doc) || doc.length === 0) throw new BadInputError(`${where}: manifest.json must be a non-empty array`);
  return doc.map((e, i) => {
    if (!isRecord(e) || typeof e.Config !== 'string' || !Array.isArray(e.Layers) || e.Layers.some((l) => typeof l !== 'string')) {
      throw new BadInputError(`${where}: manifest.json entry ${i} needs Config and Layers`);
    }
    const tags = Array.isArray(e.RepoTags) ? e.RepoTags.filter((t): t is string => typeof t === 'string') : [];
    return { Config: e.Config, RepoTags: tags, Layers: e.Layers as string[] };
  });
}

/**
 * `docker-archive:FILE[:REF]`: `docker save` output, classic (`<id>/layer.tar`)
 * or the OCI-layout flavour newer Docker writes; both carry manifest.json.
 * The archive has no registry manifest, so we synthesize a Docker schema 2
 * manifest for its layers (as skopeo does) and address the image by its digest.
 */
export class DockerArchiveSource implements ImageSource {
  constructor(private readonly ref: { path: string; ref?: string; text: string }) {}

  resolve(opts: ResolveOptions): Promise<ResolvedImage> {
    return withInputHint(Hints.archive, () => this.resolveArchive(opts));
  }

  private async resolveArchive(opts: ResolveOptions): Promise<ResolvedImage> {
    const where = `docker archive ${this.ref.path}`;
    const { contents, store } = await openArchive(this.ref.path, opts.cacheDir);
    const saveJson = contents.json.get('manifest.json');
    if (!saveJson) throw new BadInputError(`${where} has no manifest.json`, { hint: 'is it an OCI archive? use oci-archive:FILE' });
    const entries = parseSaveManifest(saveJson, where);
    const entry = this.pick(entries, where);
    const blobOf = (name: string) => {
      const digest = contents.blobs.get(name.replace(/^(\.\/)+/, ''));
      if (!digest) throw new BadInputError(`${where}: manifest.json names ${name}, which the archive does not contain`);
      return digest;
    };
    const describe = async (name: string, mediaType: string) => {
      const digest = blobOf(name);
      return { mediaType, digest, size: await store.size(digest) };
    };
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: await describe(entry.Config, MediaType.dockerConfig),
      layers: await Promise.all(entry.Layers.map((l) => describe(l, 'application/vnd.docker.image.rootfs.diff.tar'))),
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const { digest, size } = await store.ingest([bytes]);
    const image = await resolveDescriptor(storeReader(store), { mediaType: MediaType.dockerManifest, digest, size }, { platform: opts.platform, reference: this.ref.text });
    return { ...image, localFiles: [this.ref.path] };
  }

  private pick(entries: SaveEntry[], where: string): SaveEntry {
    const want = this.ref.ref;
    if (!want) {
      if (entries.length === 1) return entries[0];
      throw new BadInputError(`${where} holds ${entries.length} images; say which one`, { hint: `append :NAME:TAG, one of: ${entries.flatMap((e) => e.RepoTags).join(', ')}` });
    }
    const index = /^@(\d+)$/.exec(want);
    const hit = index ? entries[Number(index[1])] : entries.find((e) => e.RepoTags.includes(want) || e.RepoTags.includes(`docker.io/library/${want}`));
    if (!hit) throw new BadInputError(`${where} has no image '${want}'`, { hint: `images there: ${entries.flatMap((e) => e.RepoTags).join(', ') || '(untagged; use @0)'}` });
    return hit;
  }
}

