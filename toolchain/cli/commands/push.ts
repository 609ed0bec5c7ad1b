/**
 * `hyperbuild push BUNDLE REF`: a bundle directory to a registry as an OCI
 * artifact (toolchain/registry/bundle-push.ts), or as a KubeVirt image.
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import type { PushResult } from '../../registry/bundle-push.ts';
import { pushBundle } from '../../registry/bundle-push.ts';
import { registryFlags, registryOptions } from '../../registry/registry-flags.ts';

export default class Push extends BaseCommand {
  static description = 'push a bundle directory to an OCI registry as an artifact (prints the manifest digest)';

  static examples = ['<%= config.bin %> push out/nginx registry.example.com/team/nginx-vm:1.27'];

  static args = {
    bundle: Args.string({ description: 'bundle directory (bundle.json, kernel, initramfs)', required: true }),
    reference: Args.string({ description: 'where to push it, e.g. registry.example.com/team/app:1.0', required: true }),
  };

  static flags = {
    ...registryFlags,
    'mount-from': Flags.string({ description: 'repository on the same registry to mount existing blobs from' }),
  };

  async run(): Promise<PushResult> {
    const { args, flags } = await this.parse(Push);
    const result = await pushBundle(args.bundle, args.reference, {
      ...registryOptions(flags, (line) => process.stderr.write(`${line}\n`)),
      cacheDir: flags['cache-dir'],
      mountFrom: flags['mount-from'],
    });
    if (!this.jsonEnabled()) this.log(result.manifestDigest);
    return result;
  }
}
