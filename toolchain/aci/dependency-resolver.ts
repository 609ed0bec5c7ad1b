/**
 * Resolves an ACI's dependencies against local .aci files in --aci-path
 * directories (no discovery over the network: a build must not depend on
 * what a server answers today). Matching follows spec/aci.md "Dependency
 * Matching": the name must equal imageName; every label the dependency lists
 * must be present with the same value (labels it does not list match
 * anything); an imageID, when given, must equal the candidate's; a size,
 * when given, must equal the file's.
 *
 * Order: each dependency's own dependencies first, then the dependency, in
 * the order listed, then the image itself, bottom first. An image needed
 * twice is applied where first needed and again where needed later, as
 * rendering each dependency in full would do.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BadInputError } from '../errors/errors.ts';
import { scanAci, type ScannedAci } from './aci-archive.ts';
import type { AciDependency } from './image-manifest.ts';

/** One image to apply as a layer, with the whitelists that govern its files (its own and its dependents'). */
export interface AciLayerPlan {
  aci: ScannedAci;
  whitelists: string[][];
}

/** Bounds a hostile or mistaken dependency graph. */
const MAX_DEPTH = 32;

export class AciCatalog {
  private candidates?: Promise<ScannedAci[]>;
  /** .aci files in the search path that are not valid ACIs: skipped, and named if nothing matches. */
  private readonly invalid: string[] = [];

  constructor(private readonly searchPath: readonly string[]) {}

  /** Every .aci file in the search directories, scanned once, in search order (directories as given, names sorted). */
  all(): Promise<ScannedAci[]> {
    this.candidates ??= (async () => {
      const out: ScannedAci[] = [];
      for (const dir of this.searchPath) {
        let names: string[];
        try {
          names = (await readdir(dir)).filter((n) => n.endsWith('.aci')).sort();
        } catch (err) {
          throw new BadInputError(`--aci-path ${dir}: cannot list it (${(err as NodeJS.ErrnoException).code ?? err})`);
        }
        for (const name of names) {
          try {
            out.push(await scanAci(join(dir, name)));
          } catch (err) {
            if (!(err instanceof BadInputError)) throw err;
            this.invalid.push(`${join(dir, name)} (${err.message})`);
          }
        }
      }
      return out;
    })();
    return this.candidates;
  }

  async find(dep: AciDependency, neededBy: string): Promise<ScannedAci> {
    const candidates = (await this.all()).filter((c) => c.manifest.name === dep.imageName);
    const labelled = candidates.filter((c) => dep.labels.every((want) => c.manifest.labels.some((l) => l.name === want.name && l.value === want.value)));
    const hit = labelled.find((c) => (dep.imageID === undefined || c.imageId === dep.imageID) && (dep.size === undefined || c.size === dep.size));
    if (hit) return hit;
    const wanted = [dep.imageName, ...dep.labels.map((l) => `${l.name}=${l.value}`)].join(' ');
    const where = this.searchPath.length ? this.searchPath.join(', ') : '(no --aci-path given)';
    let why = 'no ACI with that name';
    if (labelled.length) why = dep.imageID !== undefined && !labelled.some((c) => c.imageId === dep.imageID) ? `no candidate has image ID ${dep.imageID}` : `no candidate is ${dep.size} bytes`;
    else if (candidates.length) why = `${candidates.length} ACI(s) with that name, none with the labels asked for`;
    const skipped = this.invalid.length ? `; skipped invalid: ${this.invalid.join('; ')}` : '';
    throw new BadInputError(`${neededBy} depends on ${wanted}, which cannot be resolved: ${why}; searched ${where}${skipped}`, {
      hint: 'put the dependency .aci into a directory given with --aci-path',
    });
  }
}

/** The layer plan for `top`, bottom first. */
export async function planAciLayers(top: ScannedAci, catalog: AciCatalog): Promise<AciLayerPlan[]> {
  const plan: AciLayerPlan[] = [];
  const visit = async (aci: ScannedAci, above: string[][], chain: string[]): Promise<void> => {
    if (chain.length > MAX_DEPTH) throw new BadInputError(`${top.label}: dependencies nest deeper than ${MAX_DEPTH}: ${chain.join(' -> ')}`);
    const whitelists = [aci.manifest.pathWhitelist, ...above];
    for (const dep of aci.manifest.dependencies) {
      if (chain.includes(dep.imageName)) throw new BadInputError(`${top.label}: dependency cycle: ${[...chain, dep.imageName].join(' -> ')}`);
      const found = await catalog.find(dep, `${aci.label} (${aci.manifest.name})`);
      await visit(found, whitelists, [...chain, dep.imageName]);
    }
    plan.push({ aci, whitelists });
  };
  await visit(top, [], [top.manifest.name]);
  return plan;
}
