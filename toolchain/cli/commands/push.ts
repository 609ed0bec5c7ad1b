/**
 * `hyperbuild push BUNDLE REF`: a bundle directory to a registry as an OCI
 * artifact (toolchain/registry/bundle-push.ts), or as a KubeVirt image.
 * `push NAME [REF]` pushes a bundle of hyperbuild.yaml, by default to its
 * `publish` reference.
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import type { PushResult } from '../../registry/bundle-push.ts';
import { pushBundle } from '../../registry/bundle-push.ts';
import { registryFlags, registryOptions } from '../../registry/registry-flags.ts';
import { BadInputError } from '../../errors/errors.ts';
import { pushKubevirtImage, type KubevirtPushResult } from '../../export/kubevirt-push.ts';
import { givenSpecFlags, specFlags, specRequest, splitDashDash } from '../spec-flags.ts';
import { bundleArgument } from '../../project/bundle-argument.ts';
import { projectFileFlag } from '../project-flag.ts';

/** BUNDLE [REF]: a directory and a reference, or a project bundle and (by default) its publish reference. */
async function pushTarget(bundle: string, ref: string | undefined, opts: { file?: string; cacheDir: string }): Promise<{ dir: string; reference: string }> {
  const target = await bundleArgument(bundle, opts);
  if (target.kind === 'as-given') {
    if (!ref) throw new BadInputError('missing REFERENCE to push to', { hint: 'hyperbuild push DIR REFERENCE; or push NAME for a bundle of hyperbuild.yaml with a publish reference' });
    return { dir: target.path, reference: ref };
  }
  const reference = ref ?? target.bundle.publish;
  if (!reference) {
    throw new BadInputError(`${target.project.file}: bundles.${target.bundle.name} has no publish reference`, { hint: `add \`publish: REGISTRY/REPOSITORY:TAG\` to it, or pass REFERENCE: hyperbuild push ${target.bundle.name} REFERENCE` });
  }
  return { dir: target.dir, reference };
}

export default class Push extends BaseCommand {
  static description = 'push a bundle directory to an OCI registry as an artifact (prints the manifest digest); --as kubevirt pushes a KubeVirt kernelBoot image instead';

  static usage = ['push BUNDLE REFERENCE [FLAGS] [-- COMMAND [ARGS...]]', 'push NAME [REFERENCE] [FLAGS]'];

  static examples = [
    '<%= config.bin %> push out/nginx registry.example.com/team/nginx-vm:1.27',
    '<%= config.bin %> push web   # bundle `web` of ./hyperbuild.yaml, to its publish reference',
    '<%= config.bin %> push out/web registry.example.com/web-vm:1 --as kubevirt -e MODE=prod',
  ];

  // `--as kubevirt` takes a command after `--`; run() splits it off and parses the rest strictly.
  static strict = false;

  static args = {
    bundle: Args.string({ description: 'bundle directory (bundle.json, kernel, initramfs), or a bundle NAME of hyperbuild.yaml', required: true }),
    reference: Args.string({ description: 'where to push it, e.g. registry.example.com/team/app:1.0 (default for NAME: its publish reference)' }),
  };

  static flags = {
    ...registryFlags,
    file: projectFileFlag,
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
    const { dir, reference } = await pushTarget(args.bundle, args.reference, { file: flags.file, cacheDir: flags['cache-dir'] });
    if (flags.as === 'kubevirt') {
      if (flags['mount-from']) throw new BadInputError('--mount-from is for bundle artifacts, not --as kubevirt', { hint: 'drop --mount-from' });
      const result = await pushKubevirtImage(dir, reference, { ...registry, cacheDir: flags['cache-dir'], spec: specRequest(flags, command), dns: flags.dns ?? [] });
      if (!this.jsonEnabled()) this.log(result.manifestDigest);
      return result;
    }
    const extra = [...givenSpecFlags(flags, command), ...(flags.dns ? ['--dns'] : [])];
    if (extra.length) throw new BadInputError(`${extra.join(', ')}: a bundle artifact carries no runtime spec`, { hint: 'add --as kubevirt, or give them to hyperbuild boot' });
    const result = await pushBundle(dir, reference, { ...registry, cacheDir: flags['cache-dir'], mountFrom: flags['mount-from'] });
    if (!this.jsonEnabled()) this.log(result.manifestDigest);
    return result;
  }
}
