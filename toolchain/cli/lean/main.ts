/**
 * The lean CLI: the entry bin/hyperbuild tries first. It runs the commands
 * Makefiles and scripts run over and over (`build`, whose usual outcome is
 * "up to date"; `boot`, whose start-up is part of every VM's start) without loading oclif, listr2 or anything else the common
 * case does not use: the same command class as the full CLI, with
 * `@oclif/core` replaced by oclif-subset.ts in this bundle. It returns false
 * — and has written nothing — for every other command and for any command
 * line its parser leaves to oclif (help, unusual flag spellings, errors
 * oclif reports); bin/hyperbuild then runs the full CLI. It is bundled, with
 * everything it imports, into one CommonJS file (dist/lean/main.js) that
 * launch.ts compiles through a V8 code cache.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../hyperstart/binary.ts';
import { Errors, LeanDeclined, leanCommandSpec, type Command, type LeanConfig } from './oclif-subset.ts';
import { parseLeanArgv } from './argv.ts';

type LeanCommandClass = typeof Command & (new (argv: string[], config: LeanConfig) => Command);

/** Commands the lean CLI runs, evaluated only when asked for (launch.ts's LEAN_COMMAND_IDS names the same). */
export const LEAN_COMMANDS: Record<string, () => Promise<{ default: unknown }>> = {
  build: () => import('../commands/build.ts'),
  boot: () => import('../commands/boot.ts'),
};

function leanConfig(): LeanConfig {
  const pjson = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string; oclif: { bin: string } };
  return { bin: pjson.oclif.bin, version: pjson.version };
}

/** Why the lean CLI leaves this command line to oclif, or undefined when it runs it. */
function declineReason(command: LeanCommandClass, argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  // oclif's own debug output (DEBUG=*) only exists in the full CLI.
  if (env.DEBUG) return '$DEBUG is set';
  // A non-strict command (boot) takes everything after `--` as its own command line and parses only what is before.
  const dashdash = command.strict === false ? argv.indexOf('--') : -1;
  const parsed = parseLeanArgv(dashdash < 0 ? argv : argv.slice(0, dashdash), leanCommandSpec(command));
  return 'declined' in parsed ? parsed.declined : undefined;
}

/**
 * Run `argv` (command id first) like oclif would; false when the full CLI must run it instead.
 * `beforeRun` is called once the command's modules are loaded and its command line accepted.
 */
export async function runLean(argv: string[], env: NodeJS.ProcessEnv = process.env, beforeRun?: (id: string) => void): Promise<boolean> {
  const [id, ...rest] = argv;
  const load = LEAN_COMMANDS[id];
  if (!load) return false;
  const command = (await load()).default as LeanCommandClass;
  const declined = declineReason(command, rest, env);
  if (declined) {
    if (rest.includes('--debug')) process.stderr.write(`hyperbuild: debug: the lean CLI leaves this command line to oclif (${declined})\n`);
    return false;
  }
  command.id = id;
  const cmd = new command(rest, leanConfig());
  let result: unknown;
  beforeRun?.(id);
  try {
    result = await cmd.run();
  } catch (err) {
    // Commands parse before doing anything, so a late decline has had no effect yet.
    if (err instanceof LeanDeclined) return false;
    try {
      await cmd.catch(err as Error);
    } catch (final) {
      if (final instanceof Errors.ExitError) {
        process.exitCode = final.oclif.exit;
        return true;
      }
      throw final;
    }
  }
  if (result && cmd.jsonEnabled()) cmd.logJson(result);
  return true;
}
