/**
 * Runs `hyperbuild boot` from the TypeScript sources (no dist/ build needed):
 * `node --import tsx tests/helpers/boot-cli.ts [boot flags] BUNDLE [-- CMD...]`.
 * Exit status and stdio are exactly the command's, so tests spawn it like the real CLI.
 *
 * oclif's Config is loaded from a stub root whose command map is empty: loading
 * the real one would make tsx transpile the whole 11 MB dist bundle (~25 s).
 */
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Errors } from '@oclif/core';
import Boot from '../../toolchain/cli/commands/boot.ts';

const root = join(tmpdir(), 'hyperbuild-boot-cli-root');
if (!existsSync(join(root, 'commands.mjs'))) {
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({
    name: 'hyperbuild', version: '0.0.0-test', type: 'module',
    oclif: { bin: 'hyperbuild', dirname: 'hyperbuild-test', commands: { strategy: 'explicit', target: './commands.mjs', identifier: 'COMMANDS' } },
  }));
  writeFileSync(join(root, 'commands.mjs'), 'export const COMMANDS = {};\n');
}

// uvu's file pattern (`tests boot-`) also matches helpers: only act when run as the program.
if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  try {
    await Boot.run(process.argv.slice(2), root);
  } catch (err) {
    const exit = (err as Errors.CLIError).oclif?.exit;
    if (err instanceof Errors.ExitError || exit !== undefined) {
      process.exitCode = exit ?? 1;
    } else {
      process.stderr.write(`boot-cli: ${(err as Error).stack}\n`);
      process.exitCode = 1;
    }
  }
}
