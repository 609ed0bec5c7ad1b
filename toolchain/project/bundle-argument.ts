/**
 * A command's BUNDLE argument (`push`, `boot`): a bundle directory as
 * always, or a bundle NAME of the project file. A bundle name (no / or :)
 * that ./hyperbuild.yaml (or the `-f` file) names is that project bundle,
 * even if a directory of that name exists (write ./NAME for the directory);
 * anything else is left to the command as before (a directory it will
 * check, or a reference).
 */
import { existsSync } from 'node:fs';
import { BadInputError } from '../errors/errors.ts';
import { findBundle, loadProject, projectPath } from './load-project.ts';
import { BUNDLE_NAME, PROJECT_FILE_NAME, type Project, type ProjectBundle } from './schema.ts';

export type BundleArgument =
  | { kind: 'as-given'; path: string }
  | { kind: 'project'; project: Project; bundle: ProjectBundle; dir: string };

export async function bundleArgument(arg: string, opts: { file?: string; cacheDir?: string }): Promise<BundleArgument> {
  const named = BUNDLE_NAME.test(arg);
  const explicit = opts.file !== undefined;
  if (!explicit && (!named || !existsSync(PROJECT_FILE_NAME))) return { kind: 'as-given', path: arg };
  if (!named) throw new BadInputError(`'${arg}' is not a bundle name of ${opts.file}`, { hint: 'with -f, name a bundle of that file (drop -f to use a directory or reference)' });
  const project = await loadProject(opts);
  // A name the project does not know, but a path that exists: the directory, as before there were projects.
  if (!explicit && !project.bundles.some((b) => b.name === arg) && existsSync(arg)) return { kind: 'as-given', path: arg };
  const bundle = findBundle(project, arg);
  return { kind: 'project', project, bundle, dir: projectPath(project, bundle.output) };
}
