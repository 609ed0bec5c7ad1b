/**
 * The hints of the input boundaries: what to tell someone whose layer,
 * image document (index, manifest, config), layout or archive is malformed.
 * A throw site that knows better gives its own hint; a boundary that names
 * the input (layer reader, tree, source) adds one of these to any error
 * that has none (HyperbuildError.withHint), so every bad input gets one.
 */
import { HyperbuildError } from './errors.ts';

const REBUILD = 'rebuild the image with a standard tool (docker build, buildah, skopeo copy)';

export const Hints = {
  layer: `the layer named above is damaged, hand-made or hostile: ${REBUILD}, or pull it again`,
  document: `the image's index, manifest or config is malformed or does not match the OCI image spec: ${REBUILD}`,
  layout: 'oci:DIR must be an OCI image layout (oci-layout, index.json, blobs/sha256/…) as skopeo copy or umoci writes it',
  archive: 'the archive must be an uncompressed tar written by docker save, podman save or skopeo copy (docker-archive: or oci-archive:); make it again',
  aci: 'the ACI must be a tar (plain, gzip, bzip2 or xz) holding manifest and rootfs/, as acbuild or actool writes it',
} as const;

/** Run `fn`; a HyperbuildError it throws without a hint gets `hint`. */
export async function withInputHint<T>(hint: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof HyperbuildError ? err.withHint(hint) : err;
  }
}

/** Archive members (tar): the hint on errors raised while they are listed and while their bodies are read (a truncated gzip shows up mid-body). */
export async function* hintedMembers<T extends { body: AsyncIterable<Buffer> }>(hint: string, members: AsyncIterable<T>): AsyncGenerator<T> {
  for await (const member of hintedStream(hint, members)) yield { ...member, body: hintedStream(hint, member.body) };
}

/** The same for a stream: errors raised while it is read get `hint`. */
export async function* hintedStream<T>(hint: string, source: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* source;
  } catch (err) {
    throw err instanceof HyperbuildError ? err.withHint(hint) : err;
  }
}
