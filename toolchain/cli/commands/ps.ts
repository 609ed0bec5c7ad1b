/** `hyperbuild ps`: the VMs of this user (toolchain/vm/ps.ts), verified against their processes. */
import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.ts';
import { ago, describeStatus, listVms, type VmView } from '../../vm/ps.ts';
import { stateRoot } from '../../vm/state-dir.ts';

export interface PsEntry {
  name: string;
  id: string;
  bundle: string;
  state: string;
  status: string;
  ports: string[];
  created?: string;
  exitCode?: number;
  outcome?: string;
  message?: string;
  mode?: string;
  pid?: number;
}

function entry(v: VmView): PsEntry {
  const s = v.status;
  return {
    name: v.ref.name ?? v.config?.name ?? '', id: v.config?.id ?? v.ref.shortId, bundle: v.config?.target ?? '?',
    state: v.state, status: describeStatus(v), ports: v.config?.ports ?? [], created: v.config?.created,
    exitCode: v.state === 'exited' ? s.exitCode : undefined, outcome: s.outcome, message: s.message ?? v.damaged,
    mode: v.config?.mode, pid: s.qemu?.pid,
  };
}

export default class Ps extends BaseCommand {
  static description = 'list VMs: running ones, or all with -a (a VM whose QEMU died shows as exited)';

  static examples = ['<%= config.bin %> ps', '<%= config.bin %> ps -a', '<%= config.bin %> rm -f $(<%= config.bin %> ps -aq)'];

  static flags = {
    all: Flags.boolean({ char: 'a', description: 'also list VMs that have exited' }),
    quiet: Flags.boolean({ char: 'q', description: 'print only the IDs (short)' }),
  };

  async run(): Promise<PsEntry[]> {
    const { flags } = await this.parse(Ps);
    const views = listVms(stateRoot()).filter((v) => flags.all || v.state !== 'exited');
    const entries = views.map(entry);
    if (flags.quiet) {
      for (const v of views) this.log(v.ref.shortId);
      return entries;
    }
    const rows = entries.map((e) => [e.name, e.id.slice(0, 12), e.bundle, e.status, e.ports.join(', '), e.created ? `${ago(e.created)} ago` : '?']);
    const header = ['NAME', 'ID', 'BUNDLE', 'STATUS', 'PORTS', 'CREATED'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const r of [header, ...rows]) this.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
    return entries;
  }
}

