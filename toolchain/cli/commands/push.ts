/**
 * `hyperbuild push BUNDLE REF`: a bundle directory to a registry as an OCI
 * artifact (toolchain/registry/bundle-push.ts), or as a KubeVirt image.
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import type { PushResult } from '../../registry/bundle-push.ts';
import { pushBundle } from '../../registry/bundle-push.ts';
import { registryFlags, registryOptions } from '../../registry/registry-flags.ts';
import { BadInputError } from '../../errors/errors.ts';
import { pushKubevirtImage, type KubevirtPushResult } from '../../export/kubevirt-push.ts';
import { givenSpecFlags, specFlags, specRequest, splitDashDash } from '../../export/runtime-flags.ts';

export default class Push extends BaseCommand {
  static description = 'push a bundle directory to an OCI registry as an artifact (prints the manifest digest); --as kubevirt pushes a KubeVirt kernelBoot image instead';

  static usage = 'push BUNDLE REFERENCE [FLAGS] [-- COMMAND [ARGS...]]';

  static examples = [
    '<%= config.bin %> push out/nginx registry.example.com/team/nginx-vm:1.27',
    '<%= config.bin %> push out/web registry.example.com/web-vm:1 --as kubevirt -e MODE=prod',
  ];

  // `--as kubevirt` takes a command after `--`; run() splits it off and parses the rest strictly.
  static strict = false;

  static args = {
    bundle: Args.string({ description: 'bundle directory (bundle.json, kernel, initramfs)', required: true }),
    reference: Args.string({ description: 'where to push it, e.g. registry.example.com/team/app:1.0', required: true }),
  };

  static flags = {
    ...registryFlags,
    'mount-from': Flags.string({ description: 'repository on the same registry to mount existing blobs from' }),
    as: Flags.string({ description: 'bundle: the OCI 1.1 bundle artifact; kubevirt: an image whose layer holds the kernel and an initrd with the runtime spec (see export --format kubevirt)', options: ['bundle', 'kubevirt'], default: 'bundle' }),
    ...specFlags,
    dns: Flags.string({ description: 'with --as kubevirt: nameserver for the guest', multiple: true, multipleNonGreedy: true }),
  };

  async run(): Promise<PushResult | KubevirtPushResult> {
    const { before, command } = splitDashDash(this.argv);
    const { args, flags } = await this.parse({ args: Push.args, flags: Push.flags, baseFlags: Push.baseFlags, enableJsonFlag: true, strict: true }, before);
    this.argv = [...before, ...(command.length ? ['--', ...command] : [])];
    const registry = registryOptions(flags, (line) => process.stderr.write(`${line}\n`));
    if (flags.as === 'kubevirt') {
      if (flags['mount-from']) throw new BadInputError('--mount-from is for bundle artifacts, not --as kubevirt', { hint: 'drop --mount-from' });
      const result = await pushKubevirtImage(args.bundle, args.reference, { ...registry, cacheDir: flags['cache-dir'], spec: specRequest(flags, command), dns: flags.dns ?? [] });
      if (!this.jsonEnabled()) this.log(result.manifestDigest);
      return result;
    }
    const extra = [...givenSpecFlags(flags, command), ...(flags.dns ? ['--dns'] : [])];
    if (extra.length) throw new BadInputError(`${extra.join(', ')}: a bundle artifact carries no runtime spec`, { hint: 'add --as kubevirt, or give them to hyperbuild boot' });
    const result = await pushBundle(args.bundle, args.reference, { ...registry, cacheDir: flags['cache-dir'], mountFrom: flags['mount-from'] });
    if (!this.jsonEnabled()) this.log(result.manifestDigest);
    return result;
  }
}
