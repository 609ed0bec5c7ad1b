/**
 * `hyperbuild inspect REF`: what a registry reference points at (toolchain/registry/inspect.ts).
 */
import { Args } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import type { InspectResult } from '../../registry/inspect.ts';
import { formatInspect, inspectReference } from '../../registry/inspect.ts';
import { registryFlags, registryOptions } from '../../registry/registry-flags.ts';

export default class Inspect extends BaseCommand {
  static description = 'show what a registry reference is: manifest digest, media types, platforms, bundle summary';

  static examples = ['<%= config.bin %> inspect nginx', '<%= config.bin %> inspect registry.example.com/team/app:1.0 --json'];

  static args = {
    reference: Args.string({ description: 'image or bundle reference', required: true }),
  };

  static flags = { ...registryFlags };

  async run(): Promise<InspectResult> {
    const { args, flags } = await this.parse(Inspect);
    const result = await inspectReference(args.reference, { ...registryOptions(flags, (line) => process.stderr.write(`${line}\n`)), cacheDir: flags['cache-dir'] });
    if (!this.jsonEnabled()) for (const line of formatInspect(result)) this.log(line);
    return result;
  }
}
