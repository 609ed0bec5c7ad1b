/**
 * QEMU's VM templates (capability `snapshot`): saving a VM booted to
 * HyperStart's `H`, and starting clones from it. The recipe (issue 11, QEMU
 * 7.2, the same as Kata's VM templating and runV's templates):
 *  - save: guest RAM in a file mapped shared (`-object memory-backend-file,
 *    share=on` + `-machine memory-backend=`), QMP `stop`, migration capability
 *    `x-ignore-shared` (RAM stays in its file, only device state is streamed),
 *    `max-bandwidth` raised, `migrate` to a unix socket hyperbuild writes into
 *    the `state` file, then `quit`;
 *  - restore: the same RAM file mapped privately (`share=off`: copy-on-write,
 *    so clones share the untouched pages in the page cache and never write the
 *    file), `-incoming defer`, `x-ignore-shared`, `migrate-incoming` from a
 *    unix socket hyperbuild feeds the `state` file into, host port forwards
 *    added with HMP `hostfwd_add`, `cont`. The guest does not resend `H`: the
 *    host sends `S` unprompted (guest-link.ts `restored`).
 * Migration goes through sockets, never `exec:`, because the jailed QEMU may
 * not spawn programs (jail.ts). The argv and how QEMU is started stay in
 * qemu.ts (the launcher); this file is the QMP choreography and the shape key.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { ExitCode, HyperbuildError } from '../../errors/errors.ts';
import type { ChannelEndpoints, LaunchRequest, PlanSnapshots, RunningVm, SupervisedLaunch } from '../hypervisor.ts';
import type { SupervisedRestore, SupervisedSnapshots } from '../template/supervised-restore.ts';
import { QmpListener, type QmpClient } from './qmp.ts';

/** A template's files, in its directory. */
export const TEMPLATE_RAM = 'ram';
export const TEMPLATE_STATE = 'state';

/** Bytes per second: the state is ~60 KB, but QEMU's default cap (32 MiB/s) would still add its pacing. */
const MAX_BANDWIDTH = 10 * 1024 ** 3;
/** RAM stays in its file; MIGRATION events report the end (QEMU sends them only with `events`). */
const MIGRATION_CAPABILITIES = [{ capability: 'x-ignore-shared', state: true }, { capability: 'events', state: true }];
/** Bounds for each step; the machine may be a loaded 2-core host running TCG. */
const SAVE_TIMEOUT_MS = 60_000;
const RESTORE_TIMEOUT_MS = 30_000;

/** What a template VM adds to the plan's argv (qemu.ts puts it in). */
export interface QemuTemplateExtras {
  /** Guest RAM in this file: `share` for the template (writes reach the file), else a copy-on-write clone. */
  memory: { path: string; share: boolean };
  /** The QMP socket QEMU connects to. */
  monitor: string;
  /** Sockets hyperbuild listens on that QEMU connects to (the jail hands them to the VM user). */
  sockets: string[];
  /** Wait for the saved state (`-incoming defer`). */
  incoming: boolean;
}

/** How qemu.ts starts a template VM (jailed like every plan) and shows its argv. */
export interface QemuTemplateLauncher {
  start(r: LaunchRequest, x: QemuTemplateExtras): Promise<RunningVm>;
  /** What the supervisor execs instead (`run -d`), jailed as start() would be; absent: supervised VMs start cold. */
  supervised?(r: LaunchRequest, x: QemuTemplateExtras): SupervisedLaunch;
  describe(r: LaunchRequest, x: QemuTemplateExtras): string;
  /** The argv with every per-run path replaced by a placeholder: the machine shape. */
  shapeArgs(r: LaunchRequest): readonly string[];
}

export class TemplateRestoreError extends HyperbuildError {
  constructor(message: string) {
    super(message, { exitCode: ExitCode.vmFailure });
    this.name = 'TemplateRestoreError';
  }
}

/**
 * A template serves every boot of the same bundle and machine shape, whatever
 * the boot's published ports (added after restore) and --verbose (which only
 * changes the kernel's console chatter before `H`): both are left out.
 */
export function templateRequest(r: LaunchRequest): LaunchRequest {
  return { ...r, verbose: false, publish: [] };
}

/** Whether this request can use a template at all: host directories (-v) differ from run to run, so they boot cold. */
export function templateEligible(r: LaunchRequest): boolean {
  return r.volumes.length === 0;
}

/** sha256 of the QEMU version and the argv shape: anything that changes the saved machine changes it. */
export function qemuShapeKey(version: string, shapeArgs: readonly string[]): string {
  return `sha256:${createHash('sha256').update(JSON.stringify({ qemu: version, argv: shapeArgs })).digest('hex')}`;
}

const ended = (d: Record<string, unknown>) => d.status === 'completed' || d.status === 'failed' || d.status === 'cancelled';

/** Resolves when migration completed; rejects when it failed. */
async function migrationEnd(qmp: QmpClient, timeoutMs: number): Promise<void> {
  const e = await qmp.waitEvent('MIGRATION', ended, timeoutMs);
  if (e.data?.status !== 'completed') throw new TemplateRestoreError(`QEMU migration ${String(e.data?.status)}`);
}

/** Listen on `path`; the first connection's bytes go to `file`. */
async function receiveInto(path: string, file: string): Promise<{ written: Promise<void>; close: () => void }> {
  const server = createServer();
  const written = new Promise<void>((resolve, reject) => {
    server.once('connection', (sock) => {
      server.close();
      const out = createWriteStream(file, { mode: 0o600 });
      sock.pipe(out);
      out.once('finish', () => resolve());
      out.once('error', reject);
      sock.once('error', reject);
    });
  });
  written.catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  return { written, close: () => server.close() };
}

/** Connect to QEMU's incoming socket and stream `file` into it. */
function sendFrom(path: string, file: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sock = connect(path);
    sock.once('error', reject);
    sock.once('connect', () => {
      const input = createReadStream(file);
      input.once('error', reject);
      input.pipe(sock);
      sock.once('finish', () => resolve());
    });
  });
}

/** Rejects with QEMU's own last words when it exits before `p` settles. */
function unlessExited<T>(vm: RunningVm, p: Promise<T>, what: string): Promise<T> {
  const died = vm.exited.then((e): never => {
    throw new TemplateRestoreError(`QEMU exited while ${what}${e.diagnostics ? `: ${e.diagnostics.split('\n').pop()}` : ''}`);
  });
  return Promise.race([p, died]);
}

async function saveTemplate(l: QemuTemplateLauncher, r: LaunchRequest, dir: string, channels: ChannelEndpoints, ready: (vm: RunningVm) => Promise<void>): Promise<void> {
  const sockets = dirname(channels.control);
  const req = { ...templateRequest(r), channels };
  const monitor = join(sockets, 'qmp.sock');
  const migration = join(sockets, 'migrate.sock');
  const listener = await QmpListener.listen(monitor);
  const state = await receiveInto(migration, join(dir, TEMPLATE_STATE));
  const vm = await l.start(req, { memory: { path: join(dir, TEMPLATE_RAM), share: true }, monitor, sockets: [monitor, migration], incoming: false });
  try {
    const qmp = await listener.client(vm.exited, SAVE_TIMEOUT_MS);
    await ready(vm);
    await qmp.execute('stop');
    await qmp.execute('migrate-set-capabilities', { capabilities: MIGRATION_CAPABILITIES });
    await qmp.execute('migrate-set-parameters', { 'max-bandwidth': MAX_BANDWIDTH });
    const end = migrationEnd(qmp, SAVE_TIMEOUT_MS);
    await qmp.execute('migrate', { uri: `unix:${migration}` });
    await unlessExited(vm, Promise.all([end, state.written]), 'saving the template');
    await qmp.execute('quit').catch(() => undefined);
    await vm.exited;
  } finally {
    vm.kill();
    listener.close();
    state.close();
  }
}

/** An HMP `hostfwd_add` rule for a published port (slirp's netdev is net0). */
const hostfwdRule = (p: LaunchRequest['publish'][number]) => `${p.protocol}:${p.hostIp}:${p.hostPort}-:${p.guestPort}`;

async function restoreTemplate(l: QemuTemplateLauncher, r: LaunchRequest, dir: string): Promise<RunningVm> {
  const sockets = dirname(r.channels.control);
  const req = templateRequest(r);
  const monitor = join(sockets, 'qmp.sock');
  const incoming = join(sockets, 'incoming.sock');
  const listener = await QmpListener.listen(monitor);
  const vm = await l.start(req, { memory: { path: join(dir, TEMPLATE_RAM), share: false }, monitor, sockets: [monitor], incoming: true });
  try {
    const qmp = await unlessExited(vm, listener.client(vm.exited, RESTORE_TIMEOUT_MS), 'starting');
    await qmp.execute('migrate-set-capabilities', { capabilities: MIGRATION_CAPABILITIES });
    const end = migrationEnd(qmp, RESTORE_TIMEOUT_MS);
    await qmp.execute('migrate-incoming', { uri: `unix:${incoming}` });
    await unlessExited(vm, Promise.all([end, sendFrom(incoming, join(dir, TEMPLATE_STATE))]), 'loading the template');
    for (const p of r.publish) {
      const rule = hostfwdRule(p);
      const said = await qmp.execute<string>('human-monitor-command', { 'command-line': `hostfwd_add net0 ${rule}` });
      if (said.trim()) throw new TemplateRestoreError(`hostfwd_add ${rule}: ${said.trim()}`);
    }
    await qmp.execute('cont');
    qmp.close();
    return vm;
  } catch (err) {
    vm.kill();
    await vm.exited;
    throw err instanceof TemplateRestoreError ? err : new TemplateRestoreError((err as Error).message);
  } finally {
    listener.close();
  }
}

/**
 * A clone for the supervisor (`run -d`): the same argv and jail as restoreTemplate's, and what
 * supervisor/restore.c needs to run the same QMP steps itself (no Node process stays).
 */
function supervisedRestore(supervised: NonNullable<QemuTemplateLauncher['supervised']>, r: LaunchRequest, dir: string): SupervisedRestore {
  const sockets = dirname(r.channels.control);
  const monitor = join(sockets, 'qmp.sock');
  const launch = supervised(templateRequest(r), { memory: { path: join(dir, TEMPLATE_RAM), share: false }, monitor, sockets: [monitor], incoming: true });
  return { launch, state: join(dir, TEMPLATE_STATE), monitor, incoming: join(sockets, 'incoming.sock'), hostfwd: r.publish.map(hostfwdRule) };
}

/** The plan's snapshot support: undefined when this request boots cold (see templateEligible). */
export function qemuPlanSnapshots(r: LaunchRequest, version: string, l: QemuTemplateLauncher): PlanSnapshots | SupervisedSnapshots | undefined {
  if (!templateEligible(r)) return undefined;
  const shapeArgs = l.shapeArgs(templateRequest(r));
  const restoreExtras = (dir: string): QemuTemplateExtras => ({
    memory: { path: join(dir, TEMPLATE_RAM), share: false }, monitor: join(dirname(r.channels.control), 'qmp.sock'), sockets: [], incoming: true,
  });
  return {
    shape: qemuShapeKey(version, shapeArgs),
    parts: { qemu: version, memoryMiB: r.memoryMiB, cpus: r.cpus, accel: r.accel, network: r.network, argv: shapeArgs.join(' ') },
    files: [TEMPLATE_RAM, TEMPLATE_STATE],
    save: (dir, channels, ready) => saveTemplate(l, r, dir, channels, ready),
    restore: (dir) => restoreTemplate(l, r, dir),
    describeRestore: (dir) => l.describe(templateRequest(r), restoreExtras(dir)),
    ...(l.supervised ? { supervisedRestore: (dir: string) => supervisedRestore(l.supervised!, r, dir) } : {}),
  };
}
