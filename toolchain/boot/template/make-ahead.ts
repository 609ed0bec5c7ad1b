/**
 * `hyperbuild build --template`: make, ahead of the first boot, the template
 * a plain `hyperbuild boot BUNDLE` would start from (default memory, one
 * vCPU, user networking, the accelerator `auto` picks, no volumes), so that
 * first boot is warm too. The request is assembled exactly as the boot
 * session assembles it, so the key comes out the same.
 */
import { bootableKernel } from '../../bundle/bootable-kernel.ts';
import { openBundleToBoot } from '../../bundle/open-bundle.ts';
import { sha256Digest } from '../../digest/digest.ts';
import { ExitCode, HyperbuildError } from '../../errors/errors.ts';
import type { AccelRequest } from '../accel.ts';
import { assertSupported } from '../capabilities.ts';
import { ChannelSet } from '../channels.ts';
import type { Hypervisor, NetworkMode } from '../hypervisor.ts';
import { defaultMemoryMiB } from '../memory.ts';
import { makeTemplate } from './make-template.ts';
import { templateKey, TemplateStore } from './template-store.ts';

export interface AheadOptions {
  bundleDir: string;
  cacheDir: string;
  hypervisor: Hypervisor;
  accel?: AccelRequest;
  memoryMiB?: number;
  cpus?: number;
  network?: NetworkMode;
  say: (line: string) => void;
}

export interface AheadResult {
  dir: string;
  /** false: it was there already. */
  made: boolean;
  ms: number;
  diskBytes: number;
}

/** The template of a default boot of the bundle, made unless it is there and intact. */
export async function makeTemplateAhead(o: AheadOptions): Promise<AheadResult> {
  const started = Date.now();
  const bundle = await openBundleToBoot(o.bundleDir, o.cacheDir);
  const network = o.network ?? 'user';
  const accelRequest = o.accel ?? 'auto';
  assertSupported(o.hypervisor, bundle.manifest, { accel: accelRequest, network, publishes: false, volumes: false });
  const decision = o.hypervisor.chooseAccel(accelRequest);
  if (decision.notice) o.say(decision.notice);
  const channels = await ChannelSet.open();
  try {
    const plan = await o.hypervisor.prepare({
      bundleDir: o.bundleDir, manifest: bundle.manifest, accel: decision.accel, kernelPath: await bootableKernel(bundle, o.cacheDir),
      memoryMiB: o.memoryMiB ?? defaultMemoryMiB(bundle.manifest.initramfs), cpus: o.cpus ?? 1,
      network, publish: [], volumes: [], verbose: false, channels: channels.endpoints, cacheDir: o.cacheDir,
    });
    const snapshots = plan.snapshots;
    if (!snapshots) {
      throw new HyperbuildError(`the ${o.hypervisor.name} backend cannot make VM templates`, { hint: 'build without --template', exitCode: ExitCode.usage });
    }
    const store = new TemplateStore(o.cacheDir);
    const unusable = await store.prepareRoot();
    if (unusable) throw new HyperbuildError(`cannot keep VM templates: ${unusable}`, { hint: 'chmod 700 it (and make it yours), or pass another --cache-dir' });
    const bundleDigest = sha256Digest(bundle.manifestBytes);
    const key = templateKey(bundleDigest, snapshots.shape);
    const found = await store.find(key, snapshots.files);
    if (found.status === 'bad') await store.remove(found.dir);
    const made = found.status !== 'ready';
    const dir = found.status === 'ready' ? found.dir : (await makeTemplate(snapshots, store, key, bundleDigest)).dir;
    const diskBytes = (await store.list()).find((e) => e.dir === dir)?.diskBytes ?? 0;
    return { dir, made, ms: Date.now() - started, diskBytes };
  } finally {
    channels.close();
  }
}
