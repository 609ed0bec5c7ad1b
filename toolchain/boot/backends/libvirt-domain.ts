/**
 * The libvirt backend's domain XML, as a pure function of the launch request
 * and where the files are (libvirt's "Domain XML format"): a transient q35
 * domain (libvirt does not drive QEMU's microvm; a PVH vmlinux boots on q35
 * too) with direct kernel boot, on_poweroff/reboot/crash `destroy` (the
 * guest's power-off ends it), the serial console and the HyperStart ports as
 * unix sockets QEMU connects to (`mode='connect'`: hyperbuild listens),
 * the disk rootfs read-only as vda, no USB, no balloon, no option ROMs.
 *
 * What libvirt 9.0 cannot say in its own XML goes through its QEMU command-line
 * passthrough (`<qemu:commandline>`, which marks the domain tainted
 * `custom-argv`): host port forwards (libvirt's `<portForward>` needs the passt
 * backend) and volumes served by virtfs-proxy-helper (libvirt has no `proxy`
 * filesystem driver). Both use the same slirp network and 9p devices as the
 * QEMU backend.
 */
import { PORT_NAMES, type PortName } from '../../hyperstart/protocol.ts';
import type { LaunchRequest } from '../hypervisor.ts';
import { composeCmdline } from '../kernel-cmdline.ts';

/** Where QEMU finds the bundle's files and how volumes are served, decided by the backend. */
export interface DomainPlacement {
  name: string;
  /** Host paths QEMU opens, by the bundle's file name (staged into the jail directory). */
  paths: Record<string, string>;
  /** Proxy-helper sockets by volume tag; a volume without one is a native <filesystem>. */
  proxySockets: Record<string, string>;
}

export const LIBVIRT_QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
/** QEMU option values separate with ','; a literal comma is written ',,'. */
const q = (value: string) => value.replaceAll(',', ',,');

function channels(r: LaunchRequest): string[] {
  const d = [
    `    <serial type='unix'>`,
    `      <source mode='connect' path='${esc(r.channels.console)}'/>`,
    `      <target port='0'/>`,
    `    </serial>`,
  ];
  const ports: [PortName, string][] = [['ctl', r.channels.control], ['out', r.channels.stdout], ['err', r.channels.stderr]];
  for (const [id, path] of ports) {
    d.push(
      `    <channel type='unix'>`,
      `      <source mode='connect' path='${esc(path)}'/>`,
      `      <target type='virtio' name='${PORT_NAMES[id]}'/>`,
      `    </channel>`,
    );
  }
  return d;
}

function storage(r: LaunchRequest, p: DomainPlacement): string[] {
  const d: string[] = [];
  if (r.manifest.rootfs) {
    d.push(
      `    <disk type='file' device='disk'>`,
      `      <driver name='qemu' type='raw'/>`,
      `      <source file='${esc(p.paths[r.manifest.rootfs.name])}'/>`,
      `      <target dev='vda' bus='virtio'/>`,
      `      <readonly/>`,
      `    </disk>`,
    );
  }
  for (const v of r.volumes) {
    if (p.proxySockets[v.tag]) continue;
    // squash = QEMU's security_model=none: host owners as they are, the guest's chown tried and failures ignored.
    d.push(
      `    <filesystem type='mount' accessmode='squash'>`,
      `      <source dir='${esc(v.hostPath)}'/>`,
      `      <target dir='${esc(v.tag)}'/>`,
      ...(v.readOnly ? [`      <readonly/>`] : []),
      `    </filesystem>`,
    );
  }
  return d;
}

/**
 * Passthrough devices sit on the root bus at slots libvirt leaves free (its
 * own q35 devices take 0x00-0x07 and 0x1f); without an address QEMU would
 * take slot 1 before libvirt's root ports ask for it.
 */
const PASSTHROUGH_SLOT = 0x10;

/** QEMU options libvirt's XML cannot express: slirp host forwards, proxied 9p volumes. */
export function passthroughArgs(r: LaunchRequest, p: DomainPlacement): string[] {
  const args: string[] = [];
  let slot = PASSTHROUGH_SLOT;
  const at = () => `bus=pcie.0,addr=0x${(slot++).toString(16)}`;
  if (r.network === 'user' && r.publish.length) {
    const fwd = r.publish.map((f) => `,hostfwd=${f.protocol}:${f.hostIp}:${f.hostPort}-:${f.guestPort}`).join('');
    args.push('-netdev', `user,id=hbnet0${fwd}`, '-device', `virtio-net-pci,netdev=hbnet0,romfile=,${at()}`);
  }
  for (const v of r.volumes) {
    const socket = p.proxySockets[v.tag];
    if (!socket) continue;
    args.push('-fsdev', `proxy,id=fs${v.tag},socket=${q(socket)}${v.readOnly ? ',readonly=on' : ''}`);
    args.push('-device', `virtio-9p-pci,fsdev=fs${v.tag},mount_tag=${v.tag},${at()}`);
  }
  return args;
}

function devices(r: LaunchRequest, p: DomainPlacement): string[] {
  const d = channels(r);
  // With port forwards the NIC comes from the passthrough (slirp hostfwd), otherwise libvirt's own user interface.
  if (r.network === 'user' && !r.publish.length) {
    d.push(`    <interface type='user'>`, `      <model type='virtio'/>`, `      <rom enabled='no'/>`, `    </interface>`);
  }
  d.push(...storage(r, p));
  d.push(`    <controller type='usb' model='none'/>`, `    <memballoon model='none'/>`);
  return d;
}

/** The whole domain, pure: same request and placement, same bytes. */
export function libvirtDomainXml(r: LaunchRequest, p: DomainPlacement): string {
  const cmdline = composeCmdline(r.manifest.cmdline, { verbose: r.verbose });
  const extra = passthroughArgs(r, p);
  const lines = [
    `<domain type='${r.accel === 'kvm' ? 'kvm' : 'qemu'}'${extra.length ? ` xmlns:qemu='${LIBVIRT_QEMU_NS}'` : ''}>`,
    `  <name>${esc(p.name)}</name>`,
    `  <memory unit='MiB'>${r.memoryMiB}</memory>`,
    `  <vcpu>${r.cpus}</vcpu>`,
    `  <os>`,
    `    <type arch='x86_64' machine='q35'>hvm</type>`,
    `    <kernel>${esc(p.paths[r.manifest.kernel.name])}</kernel>`,
    `    <initrd>${esc(p.paths[r.manifest.initramfs.name])}</initrd>`,
    `    <cmdline>${esc(cmdline)}</cmdline>`,
    `  </os>`,
    `  <features>`,
    `    <acpi/>`,
    `  </features>`,
    // maximum = QEMU's -cpu max (libvirt 7.1+), what the QEMU backend uses under TCG.
    `  <cpu mode='${r.accel === 'kvm' ? 'host-passthrough' : 'maximum'}'/>`,
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>destroy</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    ...devices(r, p),
    `  </devices>`,
    ...(extra.length ? [`  <qemu:commandline>`, ...extra.map((a) => `    <qemu:arg value='${esc(a)}'/>`), `  </qemu:commandline>`] : []),
    `</domain>`,
  ];
  return `${lines.join('\n')}\n`;
}

/** The kernel command line the domain boots with (for the plan). */
export function libvirtCmdline(r: LaunchRequest): string {
  return composeCmdline(r.manifest.cmdline, { verbose: r.verbose });
}
