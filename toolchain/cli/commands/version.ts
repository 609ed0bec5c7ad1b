/**
 * `hyperbuild version`: the hyperbuild, HyperStart protocol and Node versions.
 */
import { BaseCommand } from '../base-command.ts';
import { HYPERSTART_VERSION } from '../../hyperstart/version.ts';

export default class Version extends BaseCommand {
  static description = 'print hyperbuild and HyperStart versions';

  async run(): Promise<{ hyperbuild: string; hyperstart: string; node: string }> {
    const info = { hyperbuild: this.config.version, hyperstart: HYPERSTART_VERSION, node: process.version };
    this.log(`hyperbuild ${info.hyperbuild} (HyperStart ${info.hyperstart}, node ${info.node})`);
    return info;
  }
}
