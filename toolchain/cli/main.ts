/**
 * The entry point of the bundled CLI (dist/hyperbuild.js): oclif with the explicit command map.
 */
import { execute } from '@oclif/core';

export { COMMANDS } from './commands.ts';

/** Entry used by bin/hyperbuild; oclif finds package.json two levels up from dist/. */
export async function main(): Promise<void> {
  await execute({ dir: import.meta.url });
}
