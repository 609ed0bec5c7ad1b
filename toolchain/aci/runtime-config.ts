/**
 * An ACI's manifest as the ImageConfig every source produces.
 *
 * Decisions:
 * - `app.exec` becomes `cmd` with an empty `entrypoint`: appc says the
 *   executor "can append or override" exec, and `boot IMAGE ARGS…`
 *   replacing the whole command is the override (as `rkt run --exec`).
 * - user/group: names and numbers go through as `user:group` for HyperStart,
 *   which resolves them against the guest's /etc/passwd and /etc/group at
 *   boot (appc: names first, then numbers). A path (`/usr/bin/ping`) means
 *   "the owner of that file in the rootfs"; the caller looks it up in the
 *   layers and we write the number.
 * - ports become `PORT/PROTO` exposedPorts (a `count` range is expanded) and
 *   their names go into portNames; mountPoints become volumes + volumeNames.
 * - os/arch labels must match the requested platform (absent = any).
 */
import { BadInputError } from '../errors/errors.ts';
import type { ImageConfig } from '../image/image-config.ts';
import { formatPlatform, type Platform } from '../image/platform.ts';
import { APPC_ARCH_TO_OCI } from './ac-types.ts';
import type { AciManifest } from './image-manifest.ts';

export type OwnerLookup = (absolutePath: string) => Promise<{ uid: number; gid: number } | undefined>;

/** Platform from the os/arch labels, checked against what the build asked for. */
export function aciPlatform(manifest: AciManifest, requested: Platform, where: string): Platform {
  const label = (n: string) => manifest.labels.find((l) => l.name === n)?.value;
  const os = label('os');
  const arch = label('arch');
  if (os !== undefined && os !== requested.os) {
    throw new BadInputError(`${where}: labels os is '${os}', but the build is for ${formatPlatform(requested)}`);
  }
  if (arch !== undefined) {
    const oci = APPC_ARCH_TO_OCI[arch];
    if (oci === undefined) throw new BadInputError(`${where}: labels arch '${arch}' is not an appc architecture this build knows (${Object.keys(APPC_ARCH_TO_OCI).join(', ')})`);
    if (oci !== requested.architecture) throw new BadInputError(`${where}: labels arch is '${arch}', but the build is for ${formatPlatform(requested)}`);
  }
  return requested;
}

async function identity(value: string, field: 'user' | 'group', lookup: OwnerLookup, where: string): Promise<string> {
  if (!value.startsWith('/')) return value;
  const owner = await lookup(value);
  if (!owner) throw new BadInputError(`${where}: app.${field} is the path '${value}', which is not a file in the image's rootfs`);
  return String(field === 'user' ? owner.uid : owner.gid);
}

export async function aciImageConfig(manifest: AciManifest, requested: Platform, lookup: OwnerLookup, where: string): Promise<ImageConfig> {
  const platform = aciPlatform(manifest, requested, where);
  const app = manifest.app;
  if (!app) {
    throw new BadInputError(`${where}: the manifest has no app section, so there is nothing to run`, {
      hint: 'a dependency-only ACI (fileset) can be used through --aci-path, not booted by itself',
    });
  }
  const user = `${await identity(app.user, 'user', lookup, where)}:${await identity(app.group, 'group', lookup, where)}`;
  const exposedPorts: string[] = [];
  const portNames: Record<string, string> = {};
  for (const p of app.ports) {
    for (let port = p.port; port < p.port + p.count; port++) {
      const key = `${port}/${p.protocol}`;
      if (!(key in portNames)) exposedPorts.push(key);
      portNames[key] = p.name;
    }
  }
  const volumeNames: Record<string, string> = {};
  for (const m of app.mountPoints) volumeNames[m.path] = m.name;
  return {
    platform,
    runtime: {
      entrypoint: [],
      cmd: app.exec,
      env: app.environment.map((e) => `${e.name}=${e.value}`),
      workingDir: app.workingDirectory,
      user,
      exposedPorts,
      volumes: Object.keys(volumeNames),
      labels: Object.fromEntries(manifest.labels.map((l) => [l.name, l.value])),
      portNames,
      volumeNames,
    },
    diffIds: [],
  };
}
