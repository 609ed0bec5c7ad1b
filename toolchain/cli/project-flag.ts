/**
 * `-f FILE`: the project file (hyperbuild.yaml) that `build`, `boot` and
 * `push` look bundle names up in.
 */
import { Flags } from '@oclif/core';

export const projectFileFlag = Flags.string({ char: 'f', description: 'project file naming the bundles (default: ./hyperbuild.yaml)' });
