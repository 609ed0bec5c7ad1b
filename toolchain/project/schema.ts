/**
 * The project file, `hyperbuild.yaml`: its types and the keys it may hold
 * (documented for users in the README, "The project file"). A project
 * names one or more bundles; each has its image and build options, the
 * defaults `boot NAME` runs it with, and where `push NAME` publishes it.
 * Paths in the file are relative to the file's directory. Values are kept
 * as written; their grammar (a port, a size, a reference) is checked by the
 * same code that checks the command-line flags, with the key's line added.
 */

export const PROJECT_FILE_NAME = 'hyperbuild.yaml';

/** Bumped when a parse of the same text would give a different Project (it keys the parse memo). */
export const PROJECT_SCHEMA_VERSION = 1;

/** A bundle name: what `build NAME` takes; never mistaken for a path or an image reference. */
export const BUNDLE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const COMPRESSION_VALUES = ['auto', 'lz4', 'gzip', 'zstd', 'none'] as const;
export const ROOTFS_VALUES = ['auto', 'initramfs', 'ext4', 'erofs'] as const;
export const ACCEL_VALUES = ['auto', 'kvm', 'tcg', 'hvf'] as const;

/** Allowed keys, per level; anything else is refused with its line. */
export const PROJECT_KEYS = ['bundles'] as const;
export const BUNDLE_KEYS = ['image', 'output', 'platform', 'kernel', 'compression', 'rootfs', 'run', 'publish'] as const;
export const RUN_KEYS = ['env', 'ports', 'volumes', 'memory', 'cpus', 'hypervisor', 'accel'] as const;

/** How `boot NAME` runs the bundle unless flags say otherwise (flags add env/ports/volumes, replace the rest). */
export interface RunDefaults {
  /** `NAME=VALUE`, or a bare `NAME` taken from the host's environment (like `-e`). */
  env: string[];
  /** `[IP:]HOST:GUEST[/tcp|udp]`, like `-p`. */
  ports: string[];
  /** `HOST:GUEST[:ro]`, like `-v`; HOST relative to the project file. */
  volumes: string[];
  memory?: string;
  cpus?: number;
  hypervisor?: string;
  accel?: (typeof ACCEL_VALUES)[number];
}

export interface ProjectBundle {
  name: string;
  /** Image reference; local paths (oci:, oci-archive:, docker-archive:, aci:) relative to the project file. */
  image: string;
  /** Bundle directory; default `out/NAME`. */
  output: string;
  platform?: string;
  /** `hyperkernel`, `debian-cloud` or a kernel file (like `--kernel`). */
  kernel?: string;
  compression?: (typeof COMPRESSION_VALUES)[number];
  rootfs?: (typeof ROOTFS_VALUES)[number];
  run: RunDefaults;
  /** Registry reference `push NAME` publishes to. */
  publish?: string;
  /** Line of every key given, by its path below the bundle (`image`, `run.ports`, `run.ports[1]`), for later errors. */
  lines: Record<string, number>;
}

export interface Project {
  /** The project file as given (`-f`), or `hyperbuild.yaml`. */
  file: string;
  /** Bundles in file order. */
  bundles: ProjectBundle[];
}
