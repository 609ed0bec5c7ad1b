/**
 * `hyperbuild init [--template NAME] [DIR]`: start a project from one of the
 * templates (toolchain/project/templates.ts): hyperbuild.yaml and a Makefile
 * whose `make` builds every bundle and whose second run does nothing.
 */
import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { copyTemplate, DEFAULT_TEMPLATE } from '../../project/templates.ts';

export default class Init extends BaseCommand {
  static summary = 'start a project: hyperbuild.yaml and a Makefile from a template';

  static description = `Templates: plain (a local image or a registry reference into a bundle; make, make run), registry (the same, plus make push to the publish reference), buildah (the image built from a Containerfile by buildah into an OCI layout first). Existing files are never overwritten.`;

  static examples = ['<%= config.bin %> init', '<%= config.bin %> init --template registry web', '<%= config.bin %> init --template buildah app && cd app && make run'];

  static args = {
    dir: Args.string({ description: 'directory to create the project in (default: the current directory)' }),
  };

  static flags = {
    template: Flags.string({ char: 't', default: DEFAULT_TEMPLATE, description: 'template to copy: plain, registry or buildah' }),
  };

  async run(): Promise<{ template: string; dir: string; files: string[] }> {
    const { args, flags } = await this.parse(Init);
    const dir = args.dir ?? '.';
    const files = await copyTemplate(flags.template, dir);
    for (const f of files) this.log(`created ${dir === '.' ? f : `${dir}/${f}`}`);
    this.log(`next: ${dir === '.' ? '' : `cd ${dir} && `}edit hyperbuild.yaml (the image), then make`);
    return { template: flags.template, dir, files };
  }
}
