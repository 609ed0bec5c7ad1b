/**
 * The kernel command line each export target needs, as one table of reviewed
 * data: the console the target's serial output reaches, and what a panic or
 * PID 1's exit must do so that the VM ends instead of hanging. The bundle's
 * own command line (rdinit=..., module options) comes first; a table word is
 * added only when the bundle does not already set that parameter.
 *
 * Sources (read when the table was written; re-check them when a target changes):
 * - QEMU: -no-reboot turns the guest's reboot into QEMU's exit, so panic=-1
 *   (reboot at once) ends the VM; ttyS0 is the 16550 on -serial. Same words as
 *   `hyperbuild boot` (toolchain/boot/kernel-cmdline.ts).
 * - libvirt: QEMU underneath; the domain sets <on_reboot>destroy</on_reboot>
 *   (libvirt domain XML, "Events configuration"), the serial port is ttyS0.
 * - Firecracker: docs/initrd.md and docs/getting-started.md boot with
 *   `console=ttyS0 reboot=k panic=1 pci=off`; docs/kernel-policy.md: a given
 *   boot_args replaces Firecracker's default line, `reboot=k` makes a reboot
 *   end Firecracker (i8042 reset), `panic=1` reboots a second after a panic,
 *   `pci=off` skips PCI probing on its virtio-mmio-only machine.
 *   getting-started.md: "Firecracker doesn't implement guest power management",
 *   so HyperStart's power-off ends in PID 1 exiting, a panic, then that reboot.
 *   (Bundles already carry `panic=-1`, which wins: it reboots at once instead
 *   of after a second, the same end.)
 * - Cloud Hypervisor: README "Custom Kernel and Disk Image": with
 *   `--serial tty --console off` the guest console is `console=ttyS0`
 *   (`console=hvc0` is its virtio-console default, which this export turns
 *   off); ACPI shutdown ends the VMM (docs/device_model.md).
 * - KubeVirt: user-guide boot_from_external_source.md uses
 *   `kernelArgs: console=ttyS0`; its serial console (virtctl console) is that
 *   port. The domain underneath is libvirt/QEMU q35, so panic=-1 as for QEMU.
 */
import type { ExportTarget } from './targets.ts';

export interface TargetCmdline {
  words: readonly string[];
  /** Where the words come from, one line (shown by --json as `cmdlineSource`). */
  source: string;
}

export const CMDLINE_TABLE: Readonly<Record<ExportTarget, TargetCmdline>> = {
  qemu: { words: ['console=ttyS0', 'panic=-1', 'quiet'], source: 'QEMU -no-reboot; as hyperbuild boot' },
  libvirt: { words: ['console=ttyS0', 'panic=-1', 'quiet'], source: 'libvirt <on_reboot>destroy</on_reboot>, serial ttyS0' },
  firecracker: { words: ['console=ttyS0', 'reboot=k', 'panic=1', 'pci=off', 'quiet'], source: 'firecracker docs/initrd.md, docs/kernel-policy.md' },
  'cloud-hypervisor': { words: ['console=ttyS0', 'panic=-1', 'quiet'], source: 'cloud-hypervisor README (--serial tty --console off)' },
  kubevirt: { words: ['console=ttyS0', 'panic=-1', 'quiet'], source: 'kubevirt user-guide boot_from_external_source.md' },
};

const key = (word: string) => word.split('=', 1)[0];

/** The bundle's command line, then every table word whose parameter it does not set. */
export function exportCmdline(target: ExportTarget, bundleCmdline: string): string {
  const words = bundleCmdline.split(/\s+/).filter(Boolean);
  const present = new Set(words.map(key));
  for (const w of CMDLINE_TABLE[target].words) if (!present.has(key(w))) words.push(w);
  return words.join(' ');
}
