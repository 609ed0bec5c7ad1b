/**
 * What `hyperbuild build` builds: `IMAGE -o DIR` as always, or — without
 * `-o` — a bundle of the project file by name (`build web`; the name may be
 * left out when the file has one bundle). A bundle name has no `/` or `:`,
 * so it is never taken for an image reference or a path.
 */
import { BadInputError } from '../errors/errors.ts';
import { findBundle, loadProject, projectImageReference, projectKernel, projectPath } from './load-project.ts';
import { BUNDLE_NAME, type ProjectBundle } from './schema.ts';

export interface BuildTarget {
  reference: string;
  output: string;
  /** The project file's choices; undefined: the flag (or its default) decides. */
  platform?: string;
  kernel?: string;
  compression?: ProjectBundle['compression'];
  rootfs?: ProjectBundle['rootfs'];
  /** The project file the bundle came from (a Make dependency of the bundle). */
  projectFile?: string;
}

export interface BuildTargetInput {
  /** The positional argument: IMAGE with -o, else a bundle NAME. */
  arg?: string;
  output?: string;
  /** `-f FILE`. */
  file?: string;
  cacheDir: string;
}

export async function buildTarget(input: BuildTargetInput): Promise<BuildTarget> {
  if (input.output !== undefined) {
    if (input.file !== undefined) {
      throw new BadInputError('-f names a project file, but -o builds an image without one', { hint: 'drop -o to build a bundle of the project file (hyperbuild build NAME -f FILE), or drop -f' });
    }
    if (!input.arg) throw new BadInputError('missing IMAGE to build into -o', { hint: 'hyperbuild build IMAGE -o DIR, or hyperbuild build NAME for a bundle of hyperbuild.yaml' });
    return { reference: input.arg, output: input.output };
  }
  if (input.arg !== undefined && !BUNDLE_NAME.test(input.arg)) {
    throw new BadInputError(`missing -o for image '${input.arg}'`, { hint: 'hyperbuild build IMAGE -o DIR; bundle names from hyperbuild.yaml contain no / or :' });
  }
  const project = await loadProject({ file: input.file, cacheDir: input.cacheDir });
  let bundle: ProjectBundle;
  if (input.arg !== undefined) bundle = findBundle(project, input.arg);
  else if (project.bundles.length === 1) bundle = project.bundles[0];
  else throw new BadInputError(`${project.file} has ${project.bundles.length} bundles; say which one to build`, { hint: `hyperbuild build NAME, one of: ${project.bundles.map((b) => b.name).join(', ')}` });
  return {
    reference: projectImageReference(project, bundle),
    output: projectPath(project, bundle.output),
    platform: bundle.platform,
    kernel: projectKernel(project, bundle),
    compression: bundle.compression,
    rootfs: bundle.rootfs,
    projectFile: project.file,
  };
}
