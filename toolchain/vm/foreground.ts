/**
 * `run` without -d: boot's own foreground session (session.ts), recorded in
 * the state root as a VM whose supervisor is this hyperbuild process, so
 * names stay unique, `ps` lists it while it runs and `ps -a` after, and
 * `stop` reaches it (SIGTERM to this process, which forwards it to the app).
 * Its output goes to the terminal, not to logs.
 */
import type { BootOptions, BootResult } from '../boot/session.ts';
import { readBundleManifest } from '../bundle/open-bundle.ts';
import { createVm, discardVm, type NewVm } from './create.ts';
import { configOf, type DetachedRequest } from './detached.ts';
import { selfProcId } from './proc.ts';
import { writeConfig, writeStatus } from './records.ts';
import { ensureStateRoot } from './state-dir.ts';

export type ForegroundRequest = Omit<DetachedRequest, 'logMaxBytes' | 'say'>;

async function commandOf(o: BootOptions): Promise<string[]> {
  if (o.overrides.args.length || o.overrides.entrypoint !== undefined) {
    return [...(o.overrides.entrypoint ? [o.overrides.entrypoint] : []), ...o.overrides.args];
  }
  const { manifest } = await readBundleManifest(o.bundleDir).catch(() => ({ manifest: undefined }));
  return manifest ? [...(manifest.image.entrypoint ?? []), ...(manifest.image.cmd ?? [])] : [];
}

/** Run `boot` as a recorded VM; with autoRemove the record goes when it ends. */
export async function runForeground(r: ForegroundRequest, boot: (o: BootOptions) => Promise<BootResult>): Promise<BootResult> {
  const vm: NewVm = createVm(ensureStateRoot(), r.boot.bundleDir, r.name);
  let result: BootResult | undefined;
  try {
    await writeConfig(vm.dir, configOf({ ...r, logMaxBytes: 0, say: () => {} }, vm, await commandOf(r.boot), 'foreground'));
    await writeStatus(vm.dir, { state: 'running', supervisor: selfProcId(), startedAt: new Date().toISOString() });
    result = await boot(r.boot);
    return result;
  } finally {
    if (r.autoRemove || !result) {
      // --rm, or refused before it ran (preflight): no record of a VM that is gone or never was.
      discardVm(vm);
    } else {
      await writeStatus(vm.dir, {
        state: 'exited', supervisor: selfProcId(), startedAt: undefined, finishedAt: new Date().toISOString(),
        exitCode: result.exitCode, outcome: result.outcome, message: result.message,
      });
    }
  }
}
