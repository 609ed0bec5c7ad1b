/**
 * Whether a boot starts from a VM template, and the fallbacks: the policy
 * between the session and the template store. A plan that offers snapshots
 * (capability `snapshot`) starts from the template of its bundle and shape,
 * made first when there is none; `--no-template` (or a plan without snapshots)
 * boots cold. A template that fails its digest check, cannot be made or
 * cannot be restored never fails the boot: one notice line, the template is
 * removed (the next boot makes it again), and the boot goes cold.
 */
import type { LaunchPlan, RunningVm } from '../hypervisor.ts';
import { makeTemplate } from './make-template.ts';
import { templateKey, TemplateStore } from './template-store.ts';

export interface WarmStartOptions {
  cacheDir: string;
  /** sha256 of bundle.json. */
  bundleDigest: string;
  /** false: `--no-template`. */
  useTemplate: boolean;
  /** A line for stderr, always (the fallback notices). */
  say: (line: string) => void;
  /** A line for stderr with --verbose. */
  note: (line: string) => void;
  /** Called just before the clone's monitor is spawned (the host-time measurement's end). */
  onRestoring?: () => void;
}

export type StartChoice =
  | { restored: true; vm: RunningVm; key: string; startedAt: number; templateMs?: number }
  /** Cold: `channelsUsed` when a failed restore's monitor connected to the plan's channels (open new ones). */
  | { restored: false; channelsUsed: boolean; templateMs?: number };

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, '; ').slice(0, 300);

/** A template ready to start from, found (or made) by templateFor. */
export interface UsableTemplate {
  dir: string;
  key: string;
  /** Record its use (least recently used templates go first). */
  touch(): Promise<void>;
  /** It could not be restored: say so (the notice), remove it (the next boot makes it again). */
  notUsed(why: string): Promise<void>;
}

/** The template this plan starts from, made first when there is none; or none, after a notice saying why. */
export async function templateFor(plan: LaunchPlan, o: WarmStartOptions): Promise<{ template?: UsableTemplate; templateMs?: number }> {
  const snapshots = plan.snapshots;
  if (!o.useTemplate || !snapshots) return {};
  const store = new TemplateStore(o.cacheDir);
  const key = templateKey(o.bundleDigest, snapshots.shape);
  const notice = (why: string) => o.say(`hyperbuild: notice: VM template ${key.slice(0, 12)} not used (${oneLine(why)}); booting cold`);
  const unusable = await store.prepareRoot().catch((err: Error) => err.message);
  if (unusable) { notice(unusable); return {}; }

  let found = await store.find(key, snapshots.files);
  if (found.status === 'bad') {
    await store.remove(found.dir);
    notice(found.reason);
    return {};
  }
  let templateMs: number | undefined;
  if (found.status === 'absent') {
    const t = Date.now();
    const release = await store.claim(key);
    if (!release) {
      // Another boot is making it right now: this one goes cold rather than wait (no notice: nothing is wrong).
      o.note(`hyperbuild: VM template ${key.slice(0, 12)} is being made by another boot; booting cold`);
      return {};
    }
    o.note(`hyperbuild: making VM template ${key.slice(0, 12)} in ${store.dirFor(key)} (once for this bundle and machine shape)`);
    try {
      found = { status: 'ready', ...(await makeTemplate(snapshots, store, key, o.bundleDigest)) };
    } catch (err) {
      notice(`making it failed: ${(err as Error).message}`);
      return { templateMs: Date.now() - t };
    } finally {
      await release();
    }
    templateMs = Date.now() - t;
    o.note(`hyperbuild: VM template made in ${templateMs} ms`);
  }
  const dir = found.dir;
  const template: UsableTemplate = {
    dir, key,
    touch: () => store.touch(dir),
    notUsed: async (why) => { await store.remove(dir); notice(why); },
  };
  return { template, templateMs };
}

/** Restore from the template (making it if needed), or say why not and leave the cold boot to the caller. */
export async function startFromTemplate(plan: LaunchPlan, o: WarmStartOptions): Promise<StartChoice> {
  const { template, templateMs } = await templateFor(plan, o);
  if (!template) return { restored: false, channelsUsed: false, templateMs };
  o.note(`hyperbuild: ${plan.snapshots!.describeRestore(template.dir)}`);
  const startedAt = Date.now();
  o.onRestoring?.();
  try {
    const vm = await plan.snapshots!.restore(template.dir);
    await template.touch();
    return { restored: true, vm, key: template.key, startedAt, templateMs };
  } catch (err) {
    await template.notUsed(`restoring it failed: ${(err as Error).message}`);
    return { restored: false, channelsUsed: true, templateMs };
  }
}
