/**
 * QEMU backend: its capabilities, its accelerator flags, its user-network
 * (slirp) addresses, and the argv it runs. Machine choice:
 *  - `microvm` for a PVH-bootable ELF vmlinux: no firmware walk; ACPI lets the guest's
 *    power-off end QEMU and describes its PCIe host bridge (pcie=on).
 *  - `q35` otherwise (bzImage): SeaBIOS + linuxboot.
 * Devices are virtio-pci on both. Not virtio-mmio: QEMU's MMIO transport offers
 * 1024-entry queues (VIRTQUEUE_MAX_SIZE) and Linux's virtio_console fills each
 * receive queue with a 4 KiB buffer per entry, so our four (control, ctl,
 * stdout, stderr) pinned 16 MiB of guest RAM; on PCI the queues have 128
 * entries (2 MiB). That is what kept a bundle from booting in 28 MiB.
 * Always -nodefaults -no-user-config -nographic -no-reboot, no device option ROMs.
 */
import { closeSync, fchmodSync, fchownSync, fstatSync, openSync } from 'node:fs';
import { PORT_NAMES, type NetworkSpec, type PortName } from '../../hyperstart/protocol.ts';
import { chooseAccel, probeHost, type AccelDecision, type AccelProbe, type AccelRequest } from '../accel.ts';
import { launchFilePath, type Hypervisor, type HypervisorCapabilities, type LaunchPlan, type LaunchRequest, type RunningVm } from '../hypervisor.ts';
import { fsdevOption, jailLayout, lookupJailFacts, startJailed, supervisedJail, type JailLayout } from '../jail.ts';
import { composeCmdline } from '../kernel-cmdline.ts';
import { tscKhz } from '../tsc-frequency.ts';
import { startVmProcess } from '../vm-process.ts';
import { qemuPlanSnapshots, type QemuTemplateExtras, type QemuTemplateLauncher } from './qemu-template.ts';
import { QEMU_BINARY, qemuVersion } from './qemu-version.ts';

export { QEMU_BINARY, QEMU_INSTALL_HINT } from './qemu-version.ts';

/** QEMU user networking (slirp) hands out fixed addresses; HyperStart configures them statically. */
export const QEMU_USER_NETWORK: NetworkSpec = { mode: 'static', address: '10.0.2.15/24', gateway: '10.0.2.2', dns: ['10.0.2.3'] };

export const QEMU_CAPABILITIES: HypervisorCapabilities = {
  accelerators: ['kvm', 'tcg', 'hvf'],
  networks: { user: QEMU_USER_NETWORK, none: { mode: 'none' } },
  publishOn: ['user'],
  volumes: '9p',
  diskRootfs: true,
  kernelEntries: ['pvh', 'bzImage'],
  transport: 'virtio-serial-unix',
  detach: 'supervisor',
  snapshot: true,
};

export type QemuMachine = 'microvm' | 'q35';

export function qemuMachineFor(kernel: { format: 'vmlinux' | 'bzImage'; pvh: boolean }): QemuMachine {
  return kernel.format === 'vmlinux' && kernel.pvh ? 'microvm' : 'q35';
}

/** The QEMU plan: its argv stays here; the session sees only LaunchPlan. */
export interface QemuLaunchPlan extends LaunchPlan {
  readonly machine: QemuMachine;
  readonly command: string;
  readonly args: readonly string[];
}

/** Host facts the argv depends on, looked up by the backend (injectable for tests). */
export interface QemuHost {
  binary: string;
  /** Host TSC rate, for guests that cannot calibrate their own clock (tsc-frequency.ts). */
  tscKhz?: number;
  /** How QEMU is confined (jail.ts); absent: unconfined, bundle paths as they are (plan tests). */
  jail?: JailLayout;
  /** `qemu --version`'s first line; with it the plan offers VM templates (qemu-template.ts). */
  version?: string;
  /** The jail for another request of the same boot (a template VM's own sockets), as prepare() made `jail`. */
  jailFor?: (r: LaunchRequest) => JailLayout;
}

/** QEMU option values separate with ','; a literal comma is written ',,'. */
const q = (value: string) => value.replaceAll(',', ',,');

function machineArgs(r: LaunchRequest, machine: QemuMachine, cmdline: string, path: (name: string) => string, memory?: QemuTemplateExtras['memory']): string[] {
  const args: string[] = ['-nodefaults', '-no-user-config', '-nographic', '-no-reboot'];
  if (machine === 'microvm') {
    // rtc=on: without a CMOS clock the kernel waits ~1 s for it at boot ("Unable to read current time from RTC").
    args.push('-M', 'microvm,x-option-roms=off,pit=off,pic=off,rtc=on,isa-serial=on,acpi=on,pcie=on');
  } else {
    args.push('-M', 'q35');
  }
  if (memory) {
    // A template VM's RAM lives in a file (qemu-template.ts): the template maps it shared, a clone privately.
    args[args.length - 1] += ',memory-backend=mem';
    args.push('-object', `memory-backend-file,id=mem,size=${r.memoryMiB}M,mem-path=${q(memory.path)},share=${memory.share ? 'on' : 'off'}`);
  }
  args.push('-accel', r.accel);
  args.push('-cpu', r.accel === 'tcg' ? 'max' : 'host');
  args.push('-m', `${r.memoryMiB}M`, '-smp', String(r.cpus));
  // A microvm clone gets its booted kernel from the template's RAM: loading the kernel and initrd again
  // would only copy ~20 MiB of template pages into private ones (QEMU writes them at reset, before the
  // saved state arrives). q35 keeps them: its linuxboot option ROM is part of the saved machine.
  if (memory && !memory.share && machine === 'microvm') return args;
  args.push(
    '-kernel', path(r.manifest.kernel.name),
    '-initrd', path(r.manifest.initramfs.name),
    '-append', cmdline,
  );
  return args;
}

function channelArgs(r: LaunchRequest, serial: string): string[] {
  // Serial console → a socket hyperbuild reads (never QEMU's stdio, which stays ours).
  const args = ['-chardev', `socket,id=con,path=${q(r.channels.console)}`, '-serial', 'chardev:con'];
  args.push('-device', `${serial},id=vs0,max_ports=4`);
  const ports: [PortName, string][] = [
    ['ctl', r.channels.control], ['out', r.channels.stdout], ['err', r.channels.stderr],
  ];
  for (const [id, path] of ports) {
    args.push('-chardev', `socket,id=${id},path=${q(path)}`);
    args.push('-device', `virtserialport,bus=vs0.0,chardev=${id},name=${PORT_NAMES[id]}`);
  }
  return args;
}

function deviceArgs(r: LaunchRequest, jail: JailLayout | undefined, path: (name: string) => string): string[] {
  const dev = (kind: 'net' | '9p' | 'blk') => `virtio-${kind}-pci`;
  // PCI devices would otherwise load iPXE option ROMs (slow, and unneeded: we boot -kernel).
  const noRom = ',romfile=';
  const args: string[] = [];
  if (r.network === 'user') {
    const fwd = r.publish.map((p) => `,hostfwd=${p.protocol}:${p.hostIp}:${p.hostPort}-:${p.guestPort}`).join('');
    args.push('-netdev', `user,id=net0${fwd}`, '-device', `${dev('net')},netdev=net0${noRom}`);
  }
  // Disk-rootfs bundles: the image's root as a read-only disk; HyperStart mounts it (`rootdisk`).
  if (r.manifest.rootfs) {
    args.push('-drive', `file=${q(path(r.manifest.rootfs.name))},if=none,id=rootfs,format=raw,readonly=on`);
    args.push('-device', `${dev('blk')},drive=rootfs${noRom}`);
  }
  for (const v of r.volumes) {
    const fsdev = `fs${v.tag}`;
    args.push('-fsdev', jail ? fsdevOption(jail, v, q) : `local,id=${fsdev},path=${q(v.hostPath)},security_model=none${v.readOnly ? ',readonly=on' : ''}`);
    args.push('-device', `${dev('9p')},fsdev=${fsdev},mount_tag=${v.tag}`);
  }
  return args;
}

/** The whole plan, pure: same request and host facts, same argv. */
export function buildQemuArgs(r: LaunchRequest, host: QemuHost = { binary: QEMU_BINARY }, template?: QemuTemplateExtras): QemuLaunchPlan {
  const machine = qemuMachineFor(r.manifest.kernel);
  const microvm = machine === 'microvm';
  const cmdline = composeCmdline(r.manifest.cmdline, {
    verbose: r.verbose,
    // microvm has no PIT (pit=off) to calibrate the TSC against; under KVM the guest gets kvmclock.
    tscKhz: microvm && r.accel === 'tcg' ? host.tscKhz : undefined,
  });
  const path = (name: string) => host.jail?.paths[name] ?? launchFilePath(r, name);
  const args = [
    ...machineArgs(r, machine, cmdline, path, template?.memory),
    ...(host.jail?.args ?? []),
    ...channelArgs(r, 'virtio-serial-pci'),
    ...deviceArgs(r, host.jail, path),
    ...(template ? ['-chardev', `socket,id=qmp,path=${q(template.monitor)}`, '-mon', 'chardev=qmp,mode=control'] : []),
    ...(template?.incoming ? ['-incoming', 'defer'] : []),
  ];
  const command = host.binary;
  return {
    hypervisor: 'qemu', machine, cmdline, command, args,
    describe: () => [command, ...args].join(' '),
    start: (): Promise<RunningVm> => (host.jail ? startJailed(host.jail, command, args) : startVmProcess(command, args)),
    supervised: () => (host.jail ? supervisedJail(host.jail, command, args) : { command, args, files: [], handOver: [] }),
    snapshots: host.version && !template ? qemuPlanSnapshots(r, host.version, templateLauncher(host)) : undefined,
  };
}

/** A template VM's jail: its RAM file as a descriptor (the jail user cannot reach the 0700 template directory), its sockets handed over. */
function templateJail(layout: JailLayout, x: QemuTemplateExtras): { layout: JailLayout; memPath: string } {
  if (!layout.identity) return { layout, memPath: x.memory.path };
  const childFd = 3 + layout.files.filter((f) => f.how === 'fd').length;
  return {
    layout: { ...layout, files: [...layout.files, { how: 'fd', hostPath: x.memory.path, childFd }], sockets: [...layout.sockets, ...x.sockets] },
    memPath: `/proc/self/fd/${childFd}`,
  };
}

/**
 * QEMU 7.2 opens a RAM file read-write even for a private mapping, so the jailed
 * QEMU's group may write it (0660, created if missing). It reaches the file only
 * through the descriptor it is given; see the README on what that means.
 */
function shareRamFileWith(path: string, gid: number): void {
  const fd = openSync(path, 'a', 0o660);
  try {
    const st = fstatSync(fd);
    if (st.gid !== gid) fchownSync(fd, st.uid, gid);
    if ((st.mode & 0o777) !== 0o660) fchmodSync(fd, 0o660);
  } finally {
    closeSync(fd);
  }
}

/** How qemu-template.ts starts template VMs: the plan's argv plus the template extras, jailed like start(). */
function templateLauncher(host: QemuHost): QemuTemplateLauncher {
  const planFor = (r: LaunchRequest, x: QemuTemplateExtras) => {
    const jailed = host.jailFor ? templateJail(host.jailFor(r), x) : undefined;
    const plan = buildQemuArgs(r, { ...host, jail: jailed?.layout }, { ...x, memory: { ...x.memory, path: jailed?.memPath ?? x.memory.path } });
    return { plan, jail: jailed?.layout };
  };
  return {
    start: (r, x) => {
      const { plan, jail } = planFor(r, x);
      if (jail?.identity) shareRamFileWith(x.memory.path, jail.gid ?? jail.identity.gid);
      return jail ? startJailed(jail, plan.command, plan.args) : startVmProcess(plan.command, plan.args);
    },
    supervised: (r, x) => {
      const { plan, jail } = planFor(r, x);
      if (jail?.identity) shareRamFileWith(x.memory.path, jail.gid ?? jail.identity.gid);
      return jail ? supervisedJail(jail, plan.command, plan.args) : { command: plan.command, args: plan.args, files: [], handOver: [] };
    },
    describe: (r, x) => {
      const { plan } = planFor(r, x);
      // A clone's argv may carry no -append: its kernel was booted, with this command line, in the template.
      return x.incoming ? `${plan.describe()} (restoring a VM template; its kernel booted with: ${plan.cmdline})` : plan.describe();
    },
    shapeArgs: (r) => {
      const placeholders = { control: '$CTL', stdout: '$OUT', stderr: '$ERR', console: '$CON' };
      const x: QemuTemplateExtras = { memory: { path: '$RAM', share: true }, monitor: '$QMP', sockets: [], incoming: false };
      // The kernel's path is blanked too (an unpacked copy lives in the cache): the key's bundle digest names the kernel.
      return buildQemuArgs({ ...r, bundleDir: '$BUNDLE', kernelPath: '$KERNEL', channels: placeholders }, { binary: host.binary, tscKhz: host.tscKhz }, x).args;
    },
  };
}

export interface QemuHostSources {
  env?: NodeJS.ProcessEnv;
  accelProbe?: () => AccelProbe;
  tscKhz?: () => number | undefined;
}

export class QemuHypervisor implements Hypervisor {
  readonly name = 'qemu';
  readonly capabilities = QEMU_CAPABILITIES;

  constructor(private readonly host: QemuHostSources = {}) {}

  chooseAccel(request: AccelRequest): AccelDecision {
    return chooseAccel(request, (this.host.accelProbe ?? probeHost)());
  }

  async prepare(request: LaunchRequest): Promise<QemuLaunchPlan> {
    const { binary, version } = await qemuVersion(this.host.env, request.cacheDir);
    const host = { binary, version, tscKhz: (this.host.tscKhz ?? tscKhz)() };
    const facts = lookupJailFacts(request.accel);
    return buildQemuArgs(request, { ...host, jail: jailLayout(request, facts), jailFor: (r) => jailLayout(r, facts) });
  }
}
