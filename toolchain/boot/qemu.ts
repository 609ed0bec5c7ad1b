/**
 * QEMU backend. Machine choice:
 *  - `microvm` for a PVH-bootable ELF vmlinux: no firmware walk, no PCI, virtio-mmio
 *    devices found through ACPI; ACPI also lets the guest's power-off end QEMU.
 *  - `q35` otherwise (bzImage): virtio-pci devices, SeaBIOS + linuxboot.
 * Always -nodefaults -no-user-config -nographic -no-reboot, no device option ROMs.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { HyperbuildError, ExitCode } from '../errors/errors.ts';
import type { Hypervisor, LaunchPlan, LaunchRequest, RunningVm } from './hypervisor.ts';
import { composeCmdline } from './kernel-cmdline.ts';
import { PORT_NAMES, type PortName } from '../hyperstart/protocol.ts';
import { startVmProcess } from './vm-process.ts';

export const QEMU_BINARY = 'qemu-system-x86_64';
export const QEMU_INSTALL_HINT = 'apt-get install qemu-system-x86';

export type QemuMachine = 'microvm' | 'q35';

export function qemuMachineFor(kernel: { format: 'vmlinux' | 'bzImage'; pvh: boolean }): QemuMachine {
  return kernel.format === 'vmlinux' && kernel.pvh ? 'microvm' : 'q35';
}

/** QEMU option values separate with ','; a literal comma is written ',,'. */
const q = (value: string) => value.replaceAll(',', ',,');

export function buildQemuArgs(r: LaunchRequest, binary: string = QEMU_BINARY): LaunchPlan {
  const machine = qemuMachineFor(r.manifest.kernel);
  const mmio = machine === 'microvm';
  const dev = (kind: 'serial' | 'net' | '9p') => `virtio-${kind}-${mmio ? 'device' : 'pci'}`;
  // PCI devices would otherwise load iPXE option ROMs (slow, and unneeded: we boot -kernel).
  const noRom = mmio ? '' : ',romfile=';

  const cmdline = composeCmdline(r.manifest.cmdline, {
    verbose: r.verbose,
    // microvm has no PIT (pit=off) to calibrate the TSC against; under KVM the guest gets kvmclock.
    tscKhz: mmio && r.accel === 'tcg' ? r.tscKhz : undefined,
  });

  const args: string[] = ['-nodefaults', '-no-user-config', '-nographic', '-no-reboot'];
  if (mmio) {
    // rtc=on: without a CMOS clock the kernel waits ~1 s for it at boot ("Unable to read current time from RTC").
    args.push('-M', 'microvm,x-option-roms=off,pit=off,pic=off,rtc=on,isa-serial=on,acpi=on');
  } else {
    args.push('-M', 'q35');
  }
  args.push('-accel', r.accel);
  args.push('-cpu', r.accel === 'tcg' ? 'max' : 'host');
  args.push('-m', `${r.memoryMiB}M`, '-smp', String(r.cpus));
  args.push(
    '-kernel', join(r.bundleDir, r.manifest.kernel.name),
    '-initrd', join(r.bundleDir, r.manifest.initramfs.name),
    '-append', cmdline,
  );

  // Serial console → a socket hyperbuild reads (never QEMU's stdio, which stays ours).
  args.push('-chardev', `socket,id=con,path=${q(r.channels.console)}`, '-serial', 'chardev:con');

  args.push('-device', `${dev('serial')},id=vs0,max_ports=4`);
  const ports: [string, string][] = [
    ['ctl', r.channels.control], ['out', r.channels.stdout], ['err', r.channels.stderr],
  ];
  for (const [id, path] of ports) {
    args.push('-chardev', `socket,id=${id},path=${q(path)}`);
    args.push('-device', `virtserialport,bus=vs0.0,chardev=${id},name=${PORT_NAMES[id as PortName]}`);
  }

  if (r.network === 'user') {
    const fwd = r.publish.map((p) => `,hostfwd=${p.protocol}:${p.hostIp}:${p.hostPort}-:${p.guestPort}`).join('');
    args.push('-netdev', `user,id=net0${fwd}`, '-device', `${dev('net')},netdev=net0${noRom}`);
  }

  // Disk-rootfs bundles: the image's root as a read-only disk; HyperStart mounts it (`rootdisk`).
  if (r.manifest.rootfs) {
    args.push('-drive', `file=${q(join(r.bundleDir, r.manifest.rootfs.name))},if=none,id=rootfs,format=raw,readonly=on`);
    args.push('-device', `virtio-blk-${mmio ? 'device' : 'pci'},drive=rootfs${noRom}`);
  }

  r.volumes.forEach((v) => {
    const fsdev = `fs${v.tag}`;
    args.push('-fsdev', `local,id=${fsdev},path=${q(v.hostPath)},security_model=none${v.readOnly ? ',readonly=on' : ''}`);
    args.push('-device', `${dev('9p')},fsdev=${fsdev},mount_tag=${v.tag}`);
  });

  return { hypervisor: 'qemu', machine, command: binary, args, cmdline };
}

/** Resolve the QEMU binary (HYPERBUILD_QEMU overrides), or fail with the install hint. */
export function findQemu(env: NodeJS.ProcessEnv = process.env): string {
  const binary = env.HYPERBUILD_QEMU || QEMU_BINARY;
  const probe = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error || probe.status !== 0) {
    throw new HyperbuildError(`${binary} not found or not runnable`, { hint: QEMU_INSTALL_HINT, exitCode: ExitCode.vmFailure });
  }
  return binary;
}

export class QemuHypervisor implements Hypervisor {
  readonly name = 'qemu';

  async prepare(request: LaunchRequest): Promise<LaunchPlan> {
    return buildQemuArgs(request, findQemu());
  }

  async start(plan: LaunchPlan): Promise<RunningVm> {
    return startVmProcess(plan);
  }
}
