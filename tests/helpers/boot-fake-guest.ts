/**
 * An in-process stand-in for a VM: a Hypervisor whose "guest" is a script that
 * connects to the channel sockets exactly as QEMU would and speaks the
 * HyperStart protocol. It exercises session.ts (frames, output draining,
 * signals, timeouts, failures) in milliseconds and without QEMU. It states
 * QEMU's capabilities unless told otherwise (it stands in for a QEMU VM) and
 * decides the accelerator from an injected host probe.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { BUNDLE_MEDIA_TYPE, BUNDLE_SCHEMA_VERSION, type BundleManifest } from '../../toolchain/bundle/manifest.ts';
import { writeBundle } from '../../toolchain/bundle/write-bundle.ts';
import { sha256Digest } from '../../toolchain/digest/digest.ts';
import { encodeFrame, FrameDecoder, HYPERSTART_VERSION, type Frame } from '../../toolchain/hyperstart/protocol.ts';
import { chooseAccel, type AccelDecision, type AccelProbe, type AccelRequest } from '../../toolchain/boot/accel.ts';
import { QEMU_CAPABILITIES } from '../../toolchain/boot/backends/qemu.ts';
import type { Hypervisor, HypervisorCapabilities, LaunchPlan, LaunchRequest, RunningVm, VmExit } from '../../toolchain/boot/hypervisor.ts';

export interface FakeGuest {
  ctl: Socket;
  stdout: Socket;
  stderr: Socket;
  console: Socket;
  /** Next frame from the host (rejects if none arrives within ms). */
  next(ms?: number): Promise<Frame>;
  send(type: 'H' | 'R' | 'X' | 'F', payload?: Buffer): void;
  /** Resolves when the host killed the VM. */
  killed: Promise<void>;
}

export type GuestScript = (g: FakeGuest) => Promise<void>;

function connectTo(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });
}

export interface FakeHypervisorOptions {
  capabilities?: HypervisorCapabilities;
  /** Default: a host without usable KVM. */
  accelProbe?: AccelProbe;
}

export class FakeHypervisor implements Hypervisor {
  readonly name = 'fake';
  readonly capabilities: HypervisorCapabilities;
  /** The request prepare() got; undefined when the session refused before preparing. */
  lastRequest?: LaunchRequest;
  private request?: LaunchRequest;
  private readonly probe: AccelProbe;

  constructor(private readonly script: GuestScript, o: FakeHypervisorOptions = {}) {
    this.capabilities = o.capabilities ?? QEMU_CAPABILITIES;
    this.probe = o.accelProbe ?? { platform: 'linux', kvmDeviceUsable: false, kvmModules: [] };
  }

  chooseAccel(request: AccelRequest): AccelDecision {
    return chooseAccel(request, this.probe);
  }

  async prepare(request: LaunchRequest): Promise<LaunchPlan> {
    this.request = this.lastRequest = request;
    return {
      hypervisor: 'fake', machine: 'fake', cmdline: request.manifest.cmdline,
      describe: () => 'fake guest script',
      start: () => this.start(),
    };
  }

  private async start(): Promise<RunningVm> {
    const ch = this.request!.channels;
    const [ctl, stdout, stderr, con] = await Promise.all([ch.control, ch.stdout, ch.stderr, ch.console].map(connectTo));
    let resolveExit!: (e: VmExit) => void;
    const exited = new Promise<VmExit>((r) => { resolveExit = r; });
    let resolveKilled!: () => void;
    const killed = new Promise<void>((r) => { resolveKilled = r; });
    const frames: Frame[] = [];
    const waiters: ((f: Frame) => void)[] = [];
    const decoder = new FrameDecoder();
    ctl.on('data', (c: Buffer) => {
      for (const f of decoder.push(c)) {
        const w = waiters.shift();
        if (w) w(f); else frames.push(f);
      }
    });
    const all = [ctl, stdout, stderr, con];
    all.forEach((s) => s.on('error', () => {}));
    let done = false;
    const end = (e: VmExit) => {
      if (done) return;
      done = true;
      all.forEach((s) => s.destroy());
      resolveExit(e);
    };
    const guest: FakeGuest = {
      ctl, stdout, stderr, console: con, killed,
      next: (ms = 5000) => new Promise<Frame>((resolve, reject) => {
        const f = frames.shift();
        if (f) return resolve(f);
        const t = setTimeout(() => reject(new Error('no frame from host')), ms);
        waiters.push((x) => { clearTimeout(t); resolve(x); });
      }),
      send: (type, payload) => ctl.write(encodeFrame(type, payload)),
    };
    void this.script(guest).then(
      () => end({ code: 0, signal: null, diagnostics: '' }),
      (err: Error) => end({ code: 1, signal: null, diagnostics: `fake guest: ${err.message}` }),
    );
    return {
      pid: process.pid,
      exited,
      kill: () => { resolveKilled(); end({ code: null, signal: 'SIGKILL', diagnostics: '' }); },
    };
  }
}

/** A bundle directory with valid digests but dummy kernel/initramfs (never booted), made by the bundle writer. */
export async function writeFakeBundle(
  dir: string, image: Partial<BundleManifest['image']> = {}, kernel: Partial<Pick<BundleManifest['kernel'], 'kind' | 'release'>> = {},
): Promise<BundleManifest> {
  const src = mkdtempSync(join(tmpdir(), 'hb-fake-bundle-'));
  const file = (name: string, content: string) => {
    writeFileSync(join(src, name), content);
    return { name, digest: sha256Digest(content), size: Buffer.byteLength(content) };
  };
  const m: BundleManifest = {
    schemaVersion: BUNDLE_SCHEMA_VERSION, mediaType: BUNDLE_MEDIA_TYPE,
    source: { reference: 'fake', manifestDigest: sha256Digest('fake manifest'), configDigest: sha256Digest('fake config'), platform: 'linux/amd64' },
    image: { entrypoint: [], cmd: ['sh'], env: ['PATH=/bin'], workingDir: '', user: '', exposedPorts: [], volumes: [], labels: {}, ...image },
    kernel: { ...file('vmlinux', 'not a kernel'), kind: 'hyperkernel', format: 'vmlinux', pvh: true, modular: false, ...kernel },
    initramfs: { ...file('initramfs.cpio.gz', 'not an initramfs'), compression: 'gzip', uncompressedSize: 100 },
    cmdline: 'rdinit=/.hyperstart/init',
    hyperstart: { version: HYPERSTART_VERSION, digest: sha256Digest('fake hyperstart') },
    rootfsBytes: 0,
    buildKey: sha256Digest('fake build'),
  };
  try {
    await writeBundle(dir, ['vmlinux', 'initramfs.cpio.gz'].map((name) => ({ name, from: join(src, name) })), m, 'bundle');
  } finally {
    rmSync(src, { recursive: true, force: true });
  }
  return m;
}
