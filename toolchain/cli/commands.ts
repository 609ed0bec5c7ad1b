/**
 * The explicit command map oclif loads (package.json `oclif.commands`).
 * One file per command in ./commands; register new commands here.
 */
import Version from './commands/version.ts';

export const COMMANDS = {
  version: Version,
};
