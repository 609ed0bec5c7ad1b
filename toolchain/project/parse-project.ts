/**
 * hyperbuild.yaml text → a checked Project. The YAML is read by the `yaml`
 * package's Document API, which keeps every node's source range, so each
 * error names the file, the line and the key (`hyperbuild.yaml:7:
 * bundles.web.compresion: unknown key`) with a hint listing what is
 * allowed there. Unknown keys, wrong types and duplicate keys are refused.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import { BadInputError } from '../errors/errors.ts';
import { parsePlatform } from '../image/platform.ts';
import { parseImageReference } from '../source/reference.ts';
import {
  ACCEL_VALUES,
  BUNDLE_KEYS,
  BUNDLE_NAME,
  COMPRESSION_VALUES,
  PROJECT_KEYS,
  ROOTFS_VALUES,
  RUN_KEYS,
  type Project,
  type ProjectBundle,
  type RunDefaults,
} from './schema.ts';

/** Reads nodes of one document, turning offsets into `FILE:LINE` for errors. */
class Reader {
  constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  line(node: Node | null | undefined): number {
    const offset = node?.range?.[0] ?? 0;
    return Math.max(1, this.lines.linePos(offset).line);
  }

  fail(node: Node | null | undefined, path: string, message: string, hint: string): never {
    throw new BadInputError(`${this.file}:${this.line(node)}: ${path}: ${message}`, { hint });
  }

  /** Follow `*alias` to its anchor. */
  resolve(node: unknown): Node | null {
    return (isAlias(node) ? node.resolve(this.doc) : (node as Node | null)) ?? null;
  }

  /** A mapping's entries by key, refusing keys outside `allowed` (undefined: any key, checked by the caller). */
  map(node: Node | null, path: string, allowed: readonly string[] | undefined, what: string): [string, Pair<Node, Node | null>][] {
    const resolved = this.resolve(node);
    if (!isMap(resolved)) this.fail(resolved ?? node, path, `must be a mapping (${what})`, `write it as \`key: value\` lines indented below ${path.split('.').pop()}`);
    return resolved.items.map((pair) => {
      const key = pair.key as Node;
      if (!isScalar(key) || typeof key.value !== 'string') this.fail(key, path, 'keys must be plain strings', 'quote the key or rename it');
      const name = key.value as string;
      if (allowed && !allowed.includes(name)) this.fail(key, path ? `${path}.${name}` : name, 'unknown key', `keys of ${what}: ${allowed.join(', ')}`);
      return [name, pair as Pair<Node, Node | null>];
    });
  }

  scalar(node: Node | null, path: string, hint: string): string | number | boolean | null {
    const resolved = this.resolve(node);
    if (!isScalar(resolved)) this.fail(resolved ?? node, path, 'must be a single value, not a list or mapping', hint);
    return resolved.value as string | number | boolean | null;
  }

  string(node: Node | null, path: string, hint: string, numbersToo = false): string {
    const value = this.scalar(node, path, hint);
    if (typeof value === 'string' && value !== '') return value;
    if (numbersToo && typeof value === 'number') return String(value);
    return this.fail(node, path, value === null || value === '' ? 'must not be empty' : `must be a string, not ${typeof value} ${String(value)}`, hint);
  }

  choice<T extends string>(node: Node | null, path: string, values: readonly T[]): T {
    const hint = `one of: ${values.join(', ')}`;
    const value = this.string(node, path, hint);
    if (!values.includes(value as T)) this.fail(node, path, `'${value}' is not allowed`, hint);
    return value as T;
  }

  /** A list of strings; also collects each item's line as `path[i]`. */
  strings(node: Node | null, path: string, hint: string, lines: Record<string, number>, linePrefix: string): string[] {
    const resolved = this.resolve(node);
    if (!isSeq(resolved)) this.fail(resolved ?? node, path, 'must be a list', `write one \`- item\` line per value; ${hint}`);
    return resolved.items.map((item, i) => {
      lines[`${linePrefix}[${i}]`] = this.line(item as Node);
      return this.string(item as Node, `${path}[${i}]`, hint, true);
    });
  }
}

/** `env:` as a list (`- NAME=VALUE`, `- NAME`) or a mapping (`NAME: VALUE`; an empty value takes the host's). */
function readEnv(r: Reader, node: Node | null, path: string, lines: Record<string, number>): string[] {
  const hint = 'NAME=VALUE, or NAME alone to pass the value from the environment hyperbuild runs in';
  if (isSeq(r.resolve(node))) return r.strings(node, path, hint, lines, 'run.env');
  return r.map(node, path, undefined, 'env (NAME: VALUE)').map(([name, pair], i) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) r.fail(pair.key, `${path}.${name}`, 'is not an environment variable name', 'names are letters, digits and _, not starting with a digit');
    lines[`run.env[${i}]`] = r.line(pair.key);
    const value = r.scalar(pair.value, `${path}.${name}`, hint);
    return value === null ? name : `${name}=${String(value)}`;
  });
}

function readRun(r: Reader, node: Node | null, path: string, lines: Record<string, number>): RunDefaults {
  const run: RunDefaults = { env: [], ports: [], volumes: [] };
  for (const [key, pair] of r.map(node, path, RUN_KEYS, 'run')) {
    const at = `${path}.${key}`;
    lines[`run.${key}`] = r.line(pair.key);
    if (key === 'env') run.env = readEnv(r, pair.value, at, lines);
    else if (key === 'ports') run.ports = r.strings(pair.value, at, 'like -p: [IP:]HOST:GUEST[/tcp|udp], e.g. "8080:80"', lines, 'run.ports');
    else if (key === 'volumes') run.volumes = r.strings(pair.value, at, 'like -v: HOST:GUEST[:ro], HOST relative to the project file', lines, 'run.volumes');
    else if (key === 'memory') run.memory = r.string(pair.value, at, 'like -m: 256m, 1g', true);
    else if (key === 'hypervisor') run.hypervisor = r.string(pair.value, at, 'a hypervisor backend name, e.g. qemu');
    else if (key === 'accel') run.accel = r.choice(pair.value, at, ACCEL_VALUES);
    else if (key === 'cpus') {
      const value = r.scalar(pair.value, at, 'a whole number from 1 to 255');
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 255) r.fail(pair.value, at, `must be a whole number from 1 to 255, not ${String(value)}`, 'e.g. cpus: 2');
      run.cpus = value;
    }
  }
  return run;
}

/** A string checked by the command line's own parser, whose complaint gets the line and key. */
function checked(r: Reader, node: Node | null, path: string, hint: string, check: (text: string) => unknown): string {
  const text = r.string(node, path, hint);
  try {
    check(text);
  } catch (err) {
    if (!(err instanceof BadInputError)) throw err;
    r.fail(node, path, err.message, err.hint ?? hint);
  }
  return text;
}

/** A reference, checked like the command line's; `registryOnly` for publish targets. */
function readReference(r: Reader, node: Node | null, path: string, registryOnly: boolean): string {
  const hint = registryOnly ? 'a registry reference, e.g. registry.example.com/team/app:1.0' : 'e.g. oci:build/image:latest, docker-archive:image.tar, registry.example.com/team/app:1.0';
  const text = checked(r, node, path, hint, parseImageReference);
  if (registryOnly && parseImageReference(text).transport !== 'registry') r.fail(node, path, `'${text}' is not a registry reference`, hint);
  return text;
}

function readBundle(r: Reader, name: string, pair: Pair<Node, Node | null>, path: string): ProjectBundle {
  const node = pair.value;
  const lines: Record<string, number> = {};
  const bundle: Partial<ProjectBundle> & { run: RunDefaults } = { name, run: { env: [], ports: [], volumes: [] } };
  for (const [key, pair] of r.map(node, path, BUNDLE_KEYS, 'a bundle')) {
    const at = `${path}.${key}`;
    lines[key] = r.line(pair.key);
    if (key === 'image') bundle.image = readReference(r, pair.value, at, false);
    else if (key === 'publish') bundle.publish = readReference(r, pair.value, at, true);
    else if (key === 'output') bundle.output = r.string(pair.value, at, 'a directory, relative to the project file');
    else if (key === 'platform') bundle.platform = checked(r, pair.value, at, 'OS/ARCH[/VARIANT], e.g. linux/amd64', parsePlatform);
    else if (key === 'kernel') bundle.kernel = r.string(pair.value, at, 'hyperkernel, debian-cloud, or a kernel file relative to the project file');
    else if (key === 'compression') bundle.compression = r.choice(pair.value, at, COMPRESSION_VALUES);
    else if (key === 'rootfs') bundle.rootfs = r.choice(pair.value, at, ROOTFS_VALUES);
    else if (key === 'run') bundle.run = readRun(r, pair.value, at, lines);
  }
  if (!bundle.image) r.fail(pair.key, path, 'needs an image', 'add `image: REFERENCE`, e.g. image: oci:build/image:latest');
  return { ...bundle, image: bundle.image, output: bundle.output ?? `out/${name}`, lines } as ProjectBundle;
}

/** Parse and check a project file's text; `file` names it in errors. */
export function parseProject(text: string, file: string): Project {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) {
    const line = Math.max(1, lineCounter.linePos(problem.pos[0]).line);
    if (problem.code === 'DUPLICATE_KEY') {
      throw new BadInputError(`${file}:${line}: ${text.slice(problem.pos[0]).split(/[:\n]/)[0].trim()}: duplicate key`, { hint: 'each key may appear once in its mapping; remove or rename one' });
    }
    throw new BadInputError(`${file}:${line}: not valid YAML: ${problem.message.split('\n')[0]}`, { hint: 'fix the YAML syntax at that line (indentation, a missing colon, an unclosed quote)' });
  }
  const r: Reader = new Reader(file, doc, lineCounter);
  if (doc.contents === null) r.fail(null, 'bundles', 'the file is empty', 'start with `bundles:` and one bundle below it (see `hyperbuild init`)');
  const top = r.map(doc.contents, '', PROJECT_KEYS, 'the project file');
  const bundlesPair = top.find(([key]) => key === 'bundles')?.[1];
  if (!bundlesPair) r.fail(doc.contents, 'bundles', 'missing', 'start with `bundles:` and one bundle below it (see `hyperbuild init`)');
  const bundles = r.map(bundlesPair.value, 'bundles', undefined, 'bundles (NAME: {image: …})').map(([name, pair]) => {
    if (!BUNDLE_NAME.test(name)) r.fail(pair.key, `bundles.${name}`, 'is not a usable bundle name', 'letters, digits, . _ and -, starting with a letter or digit (no / or :, so it never looks like a path or an image)');
    return readBundle(r, name, pair, `bundles.${name}`);
  });
  if (bundles.length === 0) r.fail(bundlesPair.value ?? bundlesPair.key, 'bundles', 'names no bundle', 'add one: `web:` indented below bundles, with `image: REFERENCE` below it');
  return { file, bundles };
}
