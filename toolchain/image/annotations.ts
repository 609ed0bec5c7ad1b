/** Annotation keys from the OCI image spec (annotations.md) that hyperbuild reads or writes. */
export const Annotation = {
  title: 'org.opencontainers.image.title',
  created: 'org.opencontainers.image.created',
  /** Names an image inside an OCI layout's index.json: what `oci:DIR:TAG` selects. */
  refName: 'org.opencontainers.image.ref.name',
  /** "The image this one was made from." */
  baseName: 'org.opencontainers.image.base.name',
  baseDigest: 'org.opencontainers.image.base.digest',
} as const;
