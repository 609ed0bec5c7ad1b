/**
 * `aci:FILE.aci`: an appc image (spec 0.8), with its dependencies taken from
 * local .aci files in the --aci-path directories.
 *
 * Identities: appc's image ID (`sha512-` of the uncompressed tar) is appc's
 * name for an image; bundle.json and the build key speak OCI digests, so
 * manifestDigest is `sha256:` of the .aci file as given and configDigest is
 * `sha256:` of its manifest. contentKey covers every ACI applied (file
 * digests, bottom first, with the whitelists that filtered them), so
 * replacing a dependency in --aci-path rebuilds.
 */
import { Hints, hintedMembers, withInputHint } from '../errors/hints.ts';
import { createHash } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { aciOwners, aciRootfsMembers, scanAci } from '../aci/aci-archive.ts';
import { AciCatalog, planAciLayers, type AciLayerPlan } from '../aci/dependency-resolver.ts';
import { whitelistFilter } from '../aci/path-whitelist.ts';
import { aciImageConfig, aciPlatform } from '../aci/runtime-config.ts';
import { sha256Digest } from '../digest/digest.ts';
import { textToByteString } from '../paths/byte-string.ts';
import { pathComponents } from '../tree/rootfs-tree.ts';
import type { ImageSource, LayerInput, ResolveOptions, ResolvedImage } from './image-source.ts';

export interface AciSourceOptions {
  /** Directories searched, in order, for dependency .aci files (`--aci-path`). */
  aciPath?: readonly string[];
}

function layerInput(step: AciLayerPlan): LayerInput {
  const keep = whitelistFilter(step.whitelists);
  const label = `${step.aci.label} (${step.aci.manifest.name})`;
  return { label, members: () => hintedMembers(Hints.aci, aciRootfsMembers(step.aci.path, label, keep)) };
}

export class AciSource implements ImageSource {
  constructor(
    private readonly ref: { path: string; text: string },
    private readonly options: AciSourceOptions = {},
  ) {}

  resolve(opts: ResolveOptions): Promise<ResolvedImage> {
    return withInputHint(Hints.aci, () => this.resolveAci(opts));
  }

  private async resolveAci(opts: ResolveOptions): Promise<ResolvedImage> {
    const top = await scanAci(this.ref.path);
    const catalog = new AciCatalog((this.options.aciPath ?? []).map((d) => resolvePath(d)));
    const plan = await planAciLayers(top, catalog);
    for (const step of plan.slice(0, -1)) {
      aciPlatform(step.aci.manifest, opts.platform, `${step.aci.label} manifest`);
      opts.log?.(`dependency ${step.aci.manifest.name} from ${step.aci.path}`);
    }
    for (const ignored of top.manifest.app?.ignored ?? []) opts.log?.(`${top.label}: ${ignored} is not applied in a VM; ignored`);

    // user/group given as a path: the owner of that file, from the topmost layer that has it.
    const lookup = async (absolute: string) => {
      const path = pathComponents(textToByteString(absolute), `${top.label} app user/group path`).join('/');
      for (const step of [...plan].reverse()) {
        const keep = whitelistFilter(step.whitelists);
        const found = (await aciOwners(step.aci.path, step.aci.label, new Set([path]))).get(path);
        if (found && keep(path, found.type)) return found;
      }
      return undefined;
    };
    const config = await aciImageConfig(top.manifest, opts.platform, lookup, `${top.label} manifest`);

    const key = createHash('sha256');
    for (const step of plan) key.update(`${step.aci.fileDigest} ${JSON.stringify(step.whitelists)}\n`);
    return {
      reference: this.ref.text,
      manifestDigest: top.fileDigest,
      configDigest: sha256Digest(top.manifestBytes),
      config,
      layers: () => plan.map(layerInput),
      contentKey: `sha256:${key.digest('hex')}`,
      localFiles: plan.map((step) => step.aci.path),
    };
  }
}
