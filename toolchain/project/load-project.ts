/**
 * Finding, reading and using a project file: `hyperbuild.yaml` in the
 * current directory or the file `-f` names; a bundle by name; paths in the
 * file resolved against the file's directory (and shown relative to the
 * current one, so `out/web` stays `out/web` when make runs beside the file);
 * errors about a value found later (a bad port at boot) with its line.
 *
 * The checked project is remembered while the file (and this code) keep
 * their stat identity, so a no-op `build NAME` does not load the YAML parser.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileFactMemo } from '../cache/file-fact-memo.ts';
import { BadInputError } from '../errors/errors.ts';
import { parseImageReference } from '../source/reference.ts';
import { PROJECT_FILE_NAME, PROJECT_SCHEMA_VERSION, type Project, type ProjectBundle } from './schema.ts';

export interface LoadProjectOptions {
  /** `-f FILE`; default `hyperbuild.yaml` in the current directory. */
  file?: string;
  /** Where the checked project is remembered; without it the file is parsed every time. */
  cacheDir?: string;
}

async function readProjectText(file: string, explicit: boolean): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    if (!explicit && code === 'ENOENT') {
      throw new BadInputError(`no ${PROJECT_FILE_NAME} in ${process.cwd()}`, {
        hint: 'create one with `hyperbuild init`, name one with -f FILE, or build an image directly: hyperbuild build IMAGE -o DIR',
      });
    }
    throw new BadInputError(`cannot read project file ${file} (${code})`, { hint: 'check the path given to -f' });
  }
}

export async function loadProject(opts: LoadProjectOptions = {}): Promise<Project> {
  const file = opts.file ?? PROJECT_FILE_NAME;
  const parse = async () => {
    const text = await readProjectText(file, opts.file !== undefined);
    // The YAML parser is loaded only when the file is not remembered.
    const { parseProject } = await import('./parse-project.ts');
    return parseProject(text, file);
  };
  if (!opts.cacheDir) return parse();
  const abs = resolve(file);
  // Keyed by this module's file too: a new hyperbuild build never trusts an older one's parse.
  return new FileFactMemo(opts.cacheDir).get(`project v${PROJECT_SCHEMA_VERSION} ${abs} as ${file}`, [abs, fileURLToPath(import.meta.url)], parse);
}

export function findBundle(project: Project, name: string): ProjectBundle {
  const bundle = project.bundles.find((b) => b.name === name);
  if (!bundle) throw new BadInputError(`${project.file} has no bundle '${name}'`, { hint: `bundles there: ${project.bundles.map((b) => b.name).join(', ')}` });
  return bundle;
}

/** `FILE:LINE: bundles.NAME.KEY: MESSAGE`, for a value checked after loading. */
export function bundleValueError(project: Project, bundle: ProjectBundle, key: string, message: string, hint?: string): BadInputError {
  const line = bundle.lines[key] ?? bundle.lines[key.replace(/\[\d+\]$/, '')];
  return new BadInputError(`${project.file}${line ? `:${line}` : ''}: bundles.${bundle.name}.${key}: ${message}`, { hint });
}

/** A path from the project file, as a path from the current directory. */
export function projectPath(project: Project, path: string): string {
  if (isAbsolute(path)) return path;
  return relative(process.cwd(), resolve(dirname(project.file), path)) || '.';
}

const LOCAL_TRANSPORTS = new Set(['oci', 'oci-archive', 'docker-archive', 'aci']);

/** The bundle's image reference with a local path made relative to the current directory. */
export function projectImageReference(project: Project, bundle: ProjectBundle): string {
  const ref = parseImageReference(bundle.image);
  if (!LOCAL_TRANSPORTS.has(ref.transport) || !('path' in ref)) return bundle.image;
  const details = bundle.image.slice(ref.transport.length + 1);
  const suffix = details.startsWith(ref.path) ? details.slice(ref.path.length) : '';
  return `${ref.transport}:${projectPath(project, ref.path)}${suffix}`;
}

/** The bundle's kernel choice, a kernel file resolved like any project path. */
export function projectKernel(project: Project, bundle: ProjectBundle): string | undefined {
  const k = bundle.kernel;
  return k === undefined || k === 'hyperkernel' || k === 'debian-cloud' ? k : projectPath(project, k);
}
