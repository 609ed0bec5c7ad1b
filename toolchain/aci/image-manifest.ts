/**
 * appc ImageManifest (spec/aci.md, schema 0.8.x), parsed from hostile JSON.
 * Every refusal names the offending field, so the author of a broken ACI
 * knows what to fix. Fields a VM cannot honour (isolators, event handlers,
 * annotations) are checked for shape only and otherwise ignored.
 */
import { BadInputError } from '../errors/errors.ts';
import { isAcIdentifier, isAcName, isSupportedAcVersion } from './ac-types.ts';
import { isRecord } from '../image/json-document.ts';

export interface AciLabel {
  name: string;
  value: string;
}

export interface AciPort {
  name: string;
  protocol: string;
  port: number;
  count: number;
}

export interface AciMountPoint {
  name: string;
  path: string;
  readOnly: boolean;
}

export interface AciApp {
  exec: string[];
  user: string;
  group: string;
  workingDirectory: string;
  environment: AciLabel[];
  mountPoints: AciMountPoint[];
  ports: AciPort[];
  /** Names of manifest features present but not applied in a VM (for a warning). */
  ignored: string[];
}

export interface AciDependency {
  imageName: string;
  imageID?: string;
  labels: AciLabel[];
  size?: number;
}

export interface AciManifest {
  acVersion: string;
  name: string;
  labels: AciLabel[];
  app?: AciApp;
  dependencies: AciDependency[];
  pathWhitelist: string[];
}

/** Manifests are small JSON; anything bigger is not a real one. */
export const MAX_ACI_MANIFEST_BYTES = 1024 * 1024;
const IMAGE_ID = /^sha512-[0-9a-f]{32,128}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_PORT_COUNT = 1024;

type Json = Record<string, unknown>;

class Fields {
  constructor(readonly where: string) {}

  fail(field: string, why: string): never {
    throw new BadInputError(`${this.where}: ${field} ${why}`, { hint: 'fix the ACI manifest (appc spec 0.8, spec/aci.md)' });
  }

  string(v: unknown, field: string, required = true): string | undefined {
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string') this.fail(field, v === undefined ? 'is missing' : 'must be a string');
    return v;
  }

  array(v: unknown, field: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) this.fail(field, 'must be a list');
    return v;
  }

  object(v: unknown, field: string): Json {
    if (!isRecord(v)) this.fail(field, 'must be an object');
    return v;
  }

  absolute(v: string, field: string): string {
    if (!v.startsWith('/')) this.fail(field, `must be an absolute path, not '${v}'`);
    if (v.includes('\0')) this.fail(field, 'contains a NUL byte');
    return v;
  }

  /** An absolute path whose '..' never climbs above the root. */
  inside(v: string, field: string): string {
    let depth = 0;
    for (const part of v.split('/')) {
      if (part === '..' && --depth < 0) this.fail(field, `'${v.slice(0, 200)}' climbs out of the root filesystem with '..'`);
      else if (part !== '' && part !== '.' && part !== '..') depth++;
    }
    return v;
  }

  labels(v: unknown, field: string): AciLabel[] {
    const seen = new Set<string>();
    return this.array(v, field).map((raw, i) => {
      const o = this.object(raw, `${field}[${i}]`);
      const name = this.string(o.name, `${field}[${i}].name`)!;
      if (!isAcIdentifier(name)) this.fail(`${field}[${i}].name`, `'${name}' is not an AC Identifier`);
      if (name === 'name') this.fail(`${field}[${i}].name`, "cannot be 'name' (that is the image's name)");
      if (seen.has(name)) this.fail(`${field}[${i}].name`, `'${name}' appears twice`);
      seen.add(name);
      return { name, value: this.string(o.value, `${field}[${i}].value`)! };
    });
  }

  integer(v: unknown, field: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(field, `must be an integer from ${min} to ${max}`);
    return v;
  }
}

function parseApp(raw: unknown, f: Fields): AciApp {
  const app = f.object(raw, 'app');
  const exec = f.array(app.exec, 'app.exec').map((a, i) => f.string(a, `app.exec[${i}]`)!);
  if (exec.length === 0) f.fail('app.exec', 'must not be empty');
  f.absolute(exec[0], 'app.exec[0]');
  const user = f.string(app.user, 'app.user')!;
  const group = f.string(app.group, 'app.group')!;
  if (user === '') f.fail('app.user', 'must not be empty');
  if (group === '') f.fail('app.group', 'must not be empty');
  if (user.includes(':')) f.fail('app.user', `'${user}' contains ':'`);
  if (group.includes(':')) f.fail('app.group', `'${group}' contains ':'`);
  const workingDirectory = app.workingDirectory === undefined ? '' : f.absolute(f.string(app.workingDirectory, 'app.workingDirectory')!, 'app.workingDirectory');

  const envSeen = new Set<string>();
  const environment = f.array(app.environment, 'app.environment').map((raw, i) => {
    const o = f.object(raw, `app.environment[${i}]`);
    const name = f.string(o.name, `app.environment[${i}].name`)!;
    if (!ENV_NAME.test(name)) f.fail(`app.environment[${i}].name`, `'${name}' must consist of letters, digits and '_'`);
    if (envSeen.has(name)) f.fail(`app.environment[${i}].name`, `'${name}' appears twice`);
    envSeen.add(name);
    return { name, value: f.string(o.value, `app.environment[${i}].value`)! };
  });

  const mountPoints = f.array(app.mountPoints, 'app.mountPoints').map((raw, i) => {
    const o = f.object(raw, `app.mountPoints[${i}]`);
    const name = f.string(o.name, `app.mountPoints[${i}].name`)!;
    if (!isAcName(name)) f.fail(`app.mountPoints[${i}].name`, `'${name}' is not an AC Name`);
    const path = f.absolute(f.string(o.path, `app.mountPoints[${i}].path`)!, `app.mountPoints[${i}].path`);
    if (o.readOnly !== undefined && typeof o.readOnly !== 'boolean') f.fail(`app.mountPoints[${i}].readOnly`, 'must be a boolean');
    return { name, path, readOnly: o.readOnly === true };
  });

  const ports = f.array(app.ports, 'app.ports').map((raw, i) => {
    const o = f.object(raw, `app.ports[${i}]`);
    const name = f.string(o.name, `app.ports[${i}].name`)!;
    if (!isAcName(name)) f.fail(`app.ports[${i}].name`, `'${name}' is not an AC Name`);
    const protocol = f.string(o.protocol, `app.ports[${i}].protocol`)!;
    if (!/^[a-z0-9]+$/.test(protocol)) f.fail(`app.ports[${i}].protocol`, `'${protocol}' is not a protocol name like tcp or udp`);
    const port = f.integer(o.port, `app.ports[${i}].port`, 1, 65535);
    const count = o.count === undefined ? 1 : f.integer(o.count, `app.ports[${i}].count`, 1, MAX_PORT_COUNT);
    if (port + count - 1 > 65535) f.fail(`app.ports[${i}].count`, `makes the range end past 65535`);
    return { name, protocol, port, count };
  });

  const ignored = ['isolators', 'eventHandlers', 'supplementaryGIDs'].filter((k) => Array.isArray(app[k]) && (app[k] as unknown[]).length > 0);
  return { exec, user, group, workingDirectory, environment, mountPoints, ports, ignored: ignored.map((k) => `app.${k}`) };
}

export function parseAciManifest(bytes: Buffer, where: string): AciManifest {
  if (bytes.length > MAX_ACI_MANIFEST_BYTES) throw new BadInputError(`${where} is too large (${bytes.length} bytes)`);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new BadInputError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  const f = new Fields(where);
  const m = f.object(doc, 'the manifest');
  const acKind = f.string(m.acKind, 'acKind')!;
  if (acKind !== 'ImageManifest') f.fail('acKind', `must be "ImageManifest", not "${acKind}"`);
  const acVersion = f.string(m.acVersion, 'acVersion')!;
  if (!isSupportedAcVersion(acVersion)) f.fail('acVersion', `"${acVersion}" is not a supported version (0.8.x)`);
  const name = f.string(m.name, 'name')!;
  if (!isAcIdentifier(name)) f.fail('name', `'${name}' is not an AC Identifier (lowercase letters, digits and single -._~/ between them)`);
  const labels = f.labels(m.labels, 'labels');

  const dependencies = f.array(m.dependencies, 'dependencies').map((raw, i): AciDependency => {
    const o = f.object(raw, `dependencies[${i}]`);
    const imageName = f.string(o.imageName, `dependencies[${i}].imageName`)!;
    if (!isAcIdentifier(imageName)) f.fail(`dependencies[${i}].imageName`, `'${imageName}' is not an AC Identifier`);
    const imageID = f.string(o.imageID, `dependencies[${i}].imageID`, false);
    if (imageID !== undefined && !IMAGE_ID.test(imageID)) f.fail(`dependencies[${i}].imageID`, `'${imageID}' is not a sha512-… image ID`);
    const size = o.size === undefined ? undefined : f.integer(o.size, `dependencies[${i}].size`, 0, Number.MAX_SAFE_INTEGER);
    return { imageName, labels: f.labels(o.labels, `dependencies[${i}].labels`), ...(imageID ? { imageID } : {}), ...(size !== undefined ? { size } : {}) };
  });

  const pathWhitelist = f.array(m.pathWhitelist, 'pathWhitelist').map((p, i) => f.inside(f.absolute(f.string(p, `pathWhitelist[${i}]`)!, `pathWhitelist[${i}]`), `pathWhitelist[${i}]`));

  return {
    acVersion,
    name,
    labels,
    ...(m.app === undefined || m.app === null ? {} : { app: parseApp(m.app, f) }),
    dependencies,
    pathWhitelist,
  };
}
