/**
 * Runs hyperbuild's registry commands from the TypeScript sources (no dist/
 * build needed): `node --import tsx tests/helpers/registry-cli.ts push DIR REF`.
 * Exit status and stdio are exactly the command's.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Config, Errors } from '@oclif/core';
import Inspect from '../../toolchain/cli/commands/inspect.ts';
import Login from '../../toolchain/cli/commands/login.ts';
import Logout from '../../toolchain/cli/commands/logout.ts';
import Pull from '../../toolchain/cli/commands/pull.ts';
import Push from '../../toolchain/cli/commands/push.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const COMMANDS = { push: Push, pull: Pull, inspect: Inspect, login: Login, logout: Logout };

/** Run one command with `argv`; exit status and stdio are the command's. */
async function main(name: string | undefined, argv: string[]): Promise<void> {
  const command = COMMANDS[name as keyof typeof COMMANDS];
  if (!command) {
    process.stderr.write(`registry-cli: unknown command ${name}\n`);
    process.exitCode = 2;
    return;
  }
  // Without the command map: loading dist/ through tsx costs ~40 s per run.
  const pjson = JSON.parse(readFileSync(`${REPO}package.json`, 'utf8'));
  delete pjson.oclif.commands;
  const config = await Config.load({ root: REPO, pjson });
  try {
    // The static run() is the same for all; TS cannot unify `this` across the union.
    await (command as typeof Push).run(argv, config);
  } catch (err) {
    const exit = (err as Errors.CLIError).oclif?.exit;
    if (err instanceof Errors.ExitError || exit !== undefined) {
      process.exitCode = exit ?? 1;
    } else {
      process.stderr.write(`registry-cli: ${(err as Error).stack}\n`);
      process.exitCode = 1;
    }
  }
}

// `uvu tests registry-` also imports this file: only act when run as a script.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [name, ...argv] = process.argv.slice(2);
  await main(name, argv);
}
