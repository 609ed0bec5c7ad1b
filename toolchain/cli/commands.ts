/**
 * The explicit command map oclif loads (package.json `oclif.commands`).
 * One file per command in ./commands; register new commands here.
 */
import Version from './commands/version.ts';
import Boot from './commands/boot.ts';
import Build from './commands/build.ts';

export const COMMANDS = {
  version: Version,
  boot: Boot,
  build: Build,
};
