/**
 * `hyperbuild login REGISTRY`: check credentials against the registry, then
 * save them where Docker keeps them (toolchain/registry/docker-config.ts).
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { BadInputError } from '../../errors/errors.ts';
import { RegistryClient } from '../../registry/client.ts';
import { dockerConfigPath, storeCredentials } from '../../registry/docker-config.ts';
import { registryFlags, registryHostArgument, registryOptions } from '../../registry/registry-flags.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export default class Login extends BaseCommand {
  static description = 'log in to a registry; credentials go to the Docker config (shared with docker, podman, skopeo, oras)';

  static examples = ['echo "$TOKEN" | <%= config.bin %> login registry.example.com -u ci --password-stdin'];

  static args = {
    registry: Args.string({ description: 'registry host[:port] (default docker.io)', default: 'docker.io' }),
  };

  static flags = {
    ...registryFlags,
    username: Flags.string({ char: 'u', description: 'user name', required: true }),
    password: Flags.string({ char: 'p', description: 'password (prefer --password-stdin: arguments show up in ps)', exclusive: ['password-stdin'] }),
    'password-stdin': Flags.boolean({ description: 'read the password from standard input' }),
  };

  async run(): Promise<{ registry: string; storedIn: string }> {
    const { args, flags } = await this.parse(Login);
    const registry = registryHostArgument(args.registry);
    if (!registry) throw new BadInputError(`invalid registry '${args.registry}'`);
    const password = flags['password-stdin'] ? await readStdin() : flags.password;
    if (!password) throw new BadInputError('no password given', { hint: 'pass --password-stdin and pipe it in, or -p' });
    const credentials = { username: flags.username, password };
    const client = await RegistryClient.create(registry, { ...registryOptions(flags), credentials });
    try {
      // Check before saving: a typo should fail here, not at the next push.
      await client.checkLogin();
    } finally {
      client.close();
    }
    const configPath = flags['docker-config'] ?? dockerConfigPath();
    const where = await storeCredentials(registry, credentials, configPath);
    if (!this.jsonEnabled()) this.log(`Login succeeded for ${registry} (saved in ${where === 'helper' ? 'the credential helper' : configPath})`);
    return { registry, storedIn: where === 'helper' ? 'helper' : configPath };
  }
}
