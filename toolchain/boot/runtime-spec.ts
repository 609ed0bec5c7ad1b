/**
 * The runtime spec sent as `S`: the image config from bundle.json merged with
 * command-line overrides, following `docker run` semantics. It replaces the
 * spec file's arg/env/workdir/user/hostname/tty/net/dns/volume records wholesale
 * (PROTOCOL.md), so every field is always filled in from one place: here.
 * The guest's network addresses are the backend's (its capabilities say which).
 */
import type { ImageRuntimeConfig } from '../bundle/manifest.ts';
import type { HyperStartSpec, NetworkSpec } from '../hyperstart/spec.ts';
import { BadInputError } from '../errors/errors.ts';
import { mergeEnv } from './env-options.ts';
import type { NetworkMode } from './hypervisor.ts';
import type { VolumeMount } from './volume.ts';

/** Docker's default when an image sets no PATH. */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RuntimeOverrides {
  /** `--entrypoint`: replaces the image entrypoint and clears its cmd; '' removes the entrypoint. */
  entrypoint?: string;
  /** Arguments after `--`; non-empty replaces the image cmd. */
  args: string[];
  /** Already resolved `NAME=VALUE` entries from --env-file then -e, in that order. */
  envFiles: string[];
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  tty: boolean;
  network: NetworkMode;
  volumes: VolumeMount[];
}

/** `network`: the addresses the backend gives the guest on `o.network` (HypervisorCapabilities.networks). */
export function buildRuntimeSpec(image: ImageRuntimeConfig, o: RuntimeOverrides, network: NetworkSpec): HyperStartSpec {
  let entrypoint = image.entrypoint ?? [];
  let cmd = image.cmd ?? [];
  if (o.entrypoint !== undefined) {
    entrypoint = o.entrypoint === '' ? [] : [o.entrypoint];
    cmd = [];
  }
  if (o.args.length) cmd = o.args;
  const args = [...entrypoint, ...cmd];
  if (!args.length) {
    throw new BadInputError('no command to run: the image has no entrypoint or cmd', {
      hint: 'give one: hyperbuild boot BUNDLE -- COMMAND [ARGS...]',
    });
  }
  const defaults = [DEFAULT_PATH, ...(o.tty ? ['TERM=xterm'] : [])];
  const imageEnv = image.env ?? [];
  const fill = defaults.filter((d) => !imageEnv.some((e) => e.startsWith(d.slice(0, d.indexOf('=') + 1))));
  const workdir = o.workdir ?? (image.workingDir || undefined);
  if (workdir !== undefined && !workdir.startsWith('/')) {
    throw new BadInputError(`--workdir '${workdir}' must be an absolute path`);
  }
  return {
    args,
    env: mergeEnv(imageEnv, fill, o.envFiles, o.env),
    workdir,
    user: o.user ?? (image.user || undefined),
    hostname: o.hostname,
    tty: o.tty,
    network,
    volumes: o.volumes.map((v) => ({ tag: v.tag, guestPath: v.guestPath, readOnly: v.readOnly })),
  };
}
