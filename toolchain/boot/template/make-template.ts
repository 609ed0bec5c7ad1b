/**
 * Making one VM template: a VM of the plan's shape on channels of its own,
 * booted until HyperStart says `H` (the snapshot point: the guest has booted,
 * mounted its root and found its ports, and waits for the runtime spec, so
 * nothing about the run is in it yet), then saved by the backend
 * (PlanSnapshots.save) into a directory the template store names and records.
 */
import type { Socket } from 'node:net';
import { ExitCode, HyperbuildError } from '../../errors/errors.ts';
import { FrameDecoder, HYPERSTART_VERSION } from '../../hyperstart/protocol.ts';
import { ChannelSet } from '../channels.ts';
import { ConsoleRing } from '../console-ring.ts';
import type { PlanSnapshots, RunningVm } from '../hypervisor.ts';
import type { TemplateRecord, TemplateStore } from './template-store.ts';

/** A template boot under TCG on a loaded host may be slow; past this it is given up (the boot goes cold). */
export const TEMPLATE_BOOT_TIMEOUT_MS = 120_000;

export class TemplateBootError extends HyperbuildError {
  constructor(message: string) {
    super(message, { exitCode: ExitCode.vmFailure });
    this.name = 'TemplateBootError';
  }
}

/** Resolves at the guest's `H` with this host's protocol version; rejects if the VM ends or says anything else first. */
function helloOn(ctl: Socket, console: ConsoleRing, vm: RunningVm, timeoutMs: number): Promise<void> {
  const decoder = new FrameDecoder();
  const lastWords = () => console.tail().slice(-1)[0] ?? '';
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TemplateBootError(`the template VM did not reach HyperStart within ${timeoutMs} ms`)), timeoutMs);
    const settle = (err?: Error) => { clearTimeout(timer); ctl.pause(); if (err) reject(err); else resolve(); };
    void vm.exited.then(() => settle(new TemplateBootError(`the template VM stopped before HyperStart started${lastWords() ? ` (console: ${lastWords()})` : ''}`)));
    ctl.on('data', (chunk: Buffer) => {
      let frames;
      try { frames = decoder.push(chunk); } catch (err) { settle(new TemplateBootError((err as Error).message)); return; }
      const f = frames[0];
      if (!f) return;
      const hello = f.payload.toString('utf8');
      if (f.type !== 'H') settle(new TemplateBootError(`the template VM sent '${f.type}' before H${f.type === 'F' ? `: ${hello}` : ''}`));
      else if (hello !== `hyperstart ${HYPERSTART_VERSION}`) settle(new TemplateBootError(`the template VM's HyperStart says '${hello}', this hyperbuild speaks protocol ${HYPERSTART_VERSION}`));
      else settle();
    });
    ctl.on('error', () => { /* reported through the VM's exit */ });
    ctl.resume();
  });
}

/** Boot, save and record the template for `key`. */
export async function makeTemplate(
  snapshots: PlanSnapshots, store: TemplateStore, key: string, bundleDigest: string, timeoutMs = TEMPLATE_BOOT_TIMEOUT_MS,
): Promise<{ dir: string; record: TemplateRecord }> {
  const meta = { bundleDigest, shape: snapshots.shape, parts: snapshots.parts };
  return store.create(key, meta, snapshots.files, async (dir) => {
    const channels = await ChannelSet.open();
    try {
      await snapshots.save(dir, channels.endpoints, async (vm) => {
        const console = new ConsoleRing();
        const died = vm.exited.then((): never => { throw new TemplateBootError('the template VM stopped before it connected its channels'); });
        const [ctl, con] = await Promise.race([Promise.all([channels.connection('control'), channels.connection('console')]), died]);
        con.on('data', (b: Buffer) => console.push(b.toString('utf8')));
        con.on('error', () => undefined);
        con.resume();
        await helloOn(ctl, console, vm, timeoutMs);
      });
    } finally {
      channels.close();
    }
  });
}
