/**
 * Host ends of the VM's channels: one unix socket per channel in a private
 * (0700) temp dir. hyperbuild listens *before* the monitor starts and the monitor
 * connects (QEMU `-chardev socket,server=off`), so there is no polling for a
 * socket to appear and no window where guest output has nowhere to go. Each
 * socket accepts exactly one connection; anything else is refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChannelEndpoints } from './hypervisor.ts';

export type ChannelName = keyof ChannelEndpoints;
const NAMES: ChannelName[] = ['control', 'stdout', 'stderr', 'console'];
/** sun_path is 108 bytes; a long $TMPDIR falls back to /tmp. */
const SUN_PATH_MAX = 100;

export class ChannelSet {
  readonly dir: string;
  readonly endpoints: ChannelEndpoints;
  private readonly servers = new Map<ChannelName, Server>();
  private readonly sockets = new Map<ChannelName, Promise<Socket>>();
  private readonly accepted: Socket[] = [];

  private constructor(dir: string) {
    this.dir = dir;
    this.endpoints = {
      control: join(dir, 'ctl.sock'),
      stdout: join(dir, 'out.sock'),
      stderr: join(dir, 'err.sock'),
      console: join(dir, 'con.sock'),
    };
  }

  static async open(): Promise<ChannelSet> {
    let base = tmpdir();
    if (join(base, 'hyperbuild-XXXXXX', 'ctl.sock').length > SUN_PATH_MAX) base = '/tmp';
    const set = new ChannelSet(mkdtempSync(join(base, 'hyperbuild-')));
    try {
      await Promise.all(NAMES.map((n) => set.listen(n)));
    } catch (err) {
      set.close();
      throw err;
    }
    return set;
  }

  private async listen(name: ChannelName): Promise<void> {
    const server = createServer({ pauseOnConnect: true });
    this.servers.set(name, server);
    this.sockets.set(name, new Promise<Socket>((resolve) => {
      server.once('connection', (sock) => {
        this.accepted.push(sock);
        // One peer per channel: stop listening as soon as it is here (nobody else gets in).
        server.close();
        resolve(sock);
      });
    }));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.endpoints[name], () => { server.off('error', reject); resolve(); });
    });
  }

  /** The monitor's connection for a channel (paused: the caller decides when to read). */
  connection(name: ChannelName): Promise<Socket> {
    return this.sockets.get(name)!;
  }

  close(): void {
    for (const s of this.servers.values()) s.close();
    for (const s of this.accepted) s.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
