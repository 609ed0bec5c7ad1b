/**
 * The appc spec's string types (spec/types.md), checked exactly: an ACI's
 * name and labels take part in dependency matching, so a loose check here
 * would let two spellings of one name match different images.
 */

/** AC Identifier: lowercase alphanumerics separated by single `-._~/`, e.g. `example.com/reduce-worker`. */
const AC_IDENTIFIER = /^[a-z0-9]+([-._~/][a-z0-9]+)*$/;
/** AC Name: lowercase alphanumerics separated by single `-`, e.g. `http`, `work-dir`. */
const AC_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;
/** The schema versions this reader implements: 0.8.x (the last appc series), with optional pre-release/build suffix. */
const AC_VERSION = /^0\.8\.\d+([-+][0-9A-Za-z.+-]+)?$/;

export const isAcIdentifier = (s: string): boolean => AC_IDENTIFIER.test(s);
export const isAcName = (s: string): boolean => AC_NAME.test(s);
export const isSupportedAcVersion = (s: string): boolean => AC_VERSION.test(s);

/** appc `arch` label values, as OCI/Go architecture names. */
export const APPC_ARCH_TO_OCI: Record<string, string> = {
  amd64: 'amd64',
  i386: '386',
  aarch64: 'arm64',
  aarch64_be: 'arm64be',
  armv6l: 'arm',
  armv7l: 'arm',
  armv7b: 'armbe',
  ppc64: 'ppc64',
  ppc64le: 'ppc64le',
  s390x: 's390x',
};
