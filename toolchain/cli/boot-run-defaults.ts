/**
 * `boot NAME`: a project bundle's run defaults (hyperbuild.yaml `run:`)
 * under the command line's flags. env, ports and volumes from the file come
 * first and the flags add to them (a later -e NAME wins); memory, cpus,
 * accel and hypervisor apply unless the flag is given. Every value goes
 * through the flag's own parser; a bad one is refused naming the file, the
 * line and the key. Volume host paths are relative to the project file.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { hypervisorByName } from '../boot/backends/registry.ts';
import { parseEnvEntry } from '../boot/env-options.ts';
import { parseMemory } from '../boot/memory.ts';
import { parsePublish } from '../boot/publish.ts';
import type { BootOptions } from '../boot/session.ts';
import { parseVolume } from '../boot/volume.ts';
import { BadInputError } from '../errors/errors.ts';
import { BUNDLE_MANIFEST_NAME } from '../bundle/manifest.ts';
import { bundleValueError } from '../project/load-project.ts';
import type { Project, ProjectBundle } from '../project/schema.ts';

type BootRequest = Omit<BootOptions, 'bundleDir'>;

/** `check(value)`, its BadInputError re-thrown with the project file, line and key. */
function checked<T>(project: Project, bundle: ProjectBundle, key: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof BadInputError) throw bundleValueError(project, bundle, key, err.message, err.hint);
    throw err;
  }
}

/**
 * `request` (from the flags) with the bundle's run defaults; `given(flag)`: the flag (or its
 * environment variable) was set; `backend`: options for a backend the file names (`--connect`).
 */
export function withRunDefaults(request: BootRequest, project: Project, bundle: ProjectBundle, given: (flag: string) => boolean, backend: { connect?: string } = {}): BootRequest {
  const run = bundle.run;
  const at = <T>(key: string, check: () => T) => checked(project, bundle, key, check);
  const projectDir = dirname(resolve(project.file));
  const env = run.env.map((e, i) => at(`run.env[${i}]`, () => parseEnvEntry(e, process.env, `${project.file} env`))).filter((e): e is string => e !== undefined);
  const publish = run.ports.map((p, i) => at(`run.ports[${i}]`, () => parsePublish(p)));
  // Numbered after the flags' volumes: every share needs its own mount tag.
  const volumes = run.volumes.map((v, i) => at(`run.volumes[${i}]`, () => parseVolume(v, request.overrides.volumes.length + i, projectDir)));
  return {
    ...request,
    hypervisor: run.hypervisor !== undefined && !given('hypervisor') ? at('run.hypervisor', () => hypervisorByName(run.hypervisor, backend)) : request.hypervisor,
    accel: run.accel !== undefined && !given('accel') ? run.accel : request.accel,
    memoryMiB: request.memoryMiB ?? (run.memory === undefined ? undefined : at('run.memory', () => parseMemory(run.memory!))),
    cpus: run.cpus !== undefined && !given('cpus') ? run.cpus : request.cpus,
    publish: [...publish, ...request.publish],
    overrides: { ...request.overrides, env: [...env, ...request.overrides.env], volumes: [...volumes, ...request.overrides.volumes] },
  };
}

/** The bundle directory of a project bundle, refused with a hint when it has not been built. */
export function builtBundleDir(bundle: ProjectBundle, dir: string): string {
  if (!existsSync(join(dir, BUNDLE_MANIFEST_NAME))) {
    throw new BadInputError(`bundle '${bundle.name}' is not built (no ${join(dir, BUNDLE_MANIFEST_NAME)})`, { hint: `build it first: hyperbuild build ${bundle.name} (or make)` });
  }
  return dir;
}
