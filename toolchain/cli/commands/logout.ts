/**
 * `hyperbuild logout REGISTRY`: forget saved credentials (toolchain/registry/docker-config.ts).
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { BadInputError } from '../../errors/errors.ts';
import { dockerConfigPath, eraseCredentials } from '../../registry/docker-config.ts';
import { registryHostArgument } from '../../registry/registry-flags.ts';

export default class Logout extends BaseCommand {
  static description = 'remove saved credentials for a registry from the Docker config';

  static args = {
    registry: Args.string({ description: 'registry host[:port] (default docker.io)', default: 'docker.io' }),
  };

  static flags = {
    'docker-config': Flags.string({ description: 'Docker config.json (default: $DOCKER_CONFIG/config.json or ~/.docker/config.json)' }),
  };

  async run(): Promise<{ registry: string; removed: boolean }> {
    const { args, flags } = await this.parse(Logout);
    const registry = registryHostArgument(args.registry);
    if (!registry) throw new BadInputError(`invalid registry '${args.registry}'`);
    const removed = await eraseCredentials(registry, flags['docker-config'] ?? dockerConfigPath());
    if (!this.jsonEnabled()) this.log(removed ? `Removed credentials for ${registry}` : `Not logged in to ${registry}`);
    return { registry, removed };
  }
}
