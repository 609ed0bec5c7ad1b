/**
 * `hyperbuild pull REF -o DIR`: a bundle from a registry into a directory (toolchain/registry/bundle-pull.ts).
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import type { PullBundleResult } from '../../registry/bundle-pull.ts';
import { pullBundle } from '../../registry/bundle-pull.ts';
import { registryFlags, registryOptions } from '../../registry/registry-flags.ts';

export default class Pull extends BaseCommand {
  static description = 'pull a bundle from an OCI registry into a directory (verified; prints the manifest digest)';

  static examples = ['<%= config.bin %> pull registry.example.com/team/nginx-vm:1.27 -o out/nginx'];

  static args = {
    reference: Args.string({ description: 'bundle reference, e.g. registry.example.com/team/app:1.0', required: true }),
  };

  static flags = {
    ...registryFlags,
    output: Flags.string({ char: 'o', description: 'directory to create (must not exist or be empty)', required: true }),
    platform: Flags.string({ description: 'platform to pick from an index', default: 'linux/amd64' }),
  };

  async run(): Promise<Omit<PullBundleResult, 'bundle'>> {
    const { args, flags } = await this.parse(Pull);
    const result = await pullBundle(args.reference, flags.output, {
      ...registryOptions(flags, (line) => process.stderr.write(`${line}\n`)),
      cacheDir: flags['cache-dir'],
      platform: flags.platform,
    });
    if (!this.jsonEnabled()) this.log(result.manifestDigest);
    return { reference: result.reference, manifestDigest: result.manifestDigest, dir: result.dir };
  }
}
