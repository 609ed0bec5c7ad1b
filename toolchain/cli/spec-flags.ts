/**
 * The runtime-spec flags shared by `boot`/`run` and by `export` and `push --as kubevirt` (which bake them into a
 * VM), one definition for all, and the split of
 * argv at `--` for the command. Values go through boot's own parsers
 * (env-options.ts); boot makes the spec in boot/runtime-spec.ts, export in export/runtime.ts.
 */
import { Flags } from '@oclif/core';
import { parseEnvEntry, readEnvFile } from '../boot/env-options.ts';
import type { SpecRequest } from '../export/runtime.ts';

export const specFlags = {
  entrypoint: Flags.string({ description: 'replace the image entrypoint (and drop its cmd); \'\' removes it' }),
  env: Flags.string({ char: 'e', description: 'set NAME=VALUE, or pass NAME from this environment', multiple: true, multipleNonGreedy: true }),
  'env-file': Flags.string({ description: 'read NAME=VALUE lines from a file', multiple: true, multipleNonGreedy: true }),
  workdir: Flags.string({ char: 'w', description: 'working directory of the app (absolute)' }),
  user: Flags.string({ char: 'u', description: 'run the app as name|uid[:group|gid]' }),
  hostname: Flags.string({ description: 'the VM\'s hostname' }),
};

export interface SpecFlagValues {
  entrypoint?: string;
  env?: string[];
  'env-file'?: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
}

/** argv before `--` (parsed as flags) and after it (the command). */
export function splitDashDash(argv: string[]): { before: string[]; command: string[] } {
  const i = argv.indexOf('--');
  return i < 0 ? { before: argv, command: [] } : { before: argv.slice(0, i), command: argv.slice(i + 1) };
}

export function specRequest(flags: SpecFlagValues, command: string[], hostEnv: NodeJS.ProcessEnv = process.env): SpecRequest {
  return {
    entrypoint: flags.entrypoint,
    args: command,
    envFiles: (flags['env-file'] ?? []).flatMap((f) => readEnvFile(f, hostEnv)),
    env: (flags.env ?? []).map((e) => parseEnvEntry(e, hostEnv, '--env')).filter((e): e is string => e !== undefined),
    workdir: flags.workdir,
    user: flags.user,
    hostname: flags.hostname,
  };
}

/** The spec flags given, by name (for a target that cannot take them). */
export function givenSpecFlags(flags: SpecFlagValues, command: string[]): string[] {
  const names = (Object.keys(specFlags) as (keyof SpecFlagValues)[]).filter((k) => flags[k] !== undefined).map((k) => `--${k}`);
  return command.length ? [...names, '-- COMMAND'] : names;
}
