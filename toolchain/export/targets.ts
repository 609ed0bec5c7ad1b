/**
 * The export targets and what each can express. Plain data, asked before
 * anything is written: a runtime option a target cannot carry is refused with
 * a one-line reason (exit 2), never dropped. The kernel command line per
 * target lives in cmdline-table.ts; the launch files in render-*.ts.
 */
import type { BundleManifest } from '../bundle/manifest.ts';
import { BadInputError } from '../errors/errors.ts';

export const EXPORT_TARGETS = ['qemu', 'libvirt', 'firecracker', 'cloud-hypervisor', 'kubevirt'] as const;
export type ExportTarget = (typeof EXPORT_TARGETS)[number];

/**
 * The guest's network in an export:
 * - `user`: the monitor's user-mode NAT (QEMU/libvirt SLIRP, fixed addresses);
 * - `none`: loopback only;
 * - `tap`: a host tap device the user created (Firecracker, Cloud Hypervisor);
 * - `pod`: KubeVirt's pod network with masquerade binding.
 */
export type ExportNetworkMode = 'user' | 'none' | 'tap' | 'pod';

export interface TargetCapabilities {
  /** What the launch file is, for messages and --json. */
  writes: string;
  networks: readonly ExportNetworkMode[];
  /** The network used when none is asked for. */
  defaultNetwork: ExportNetworkMode;
  /** `-p` host port forwards; otherwise the reason they cannot be expressed. */
  publish: true | string;
  /** bzImage kernels boot there (all of them boot a PVH vmlinux). */
  bzImage: boolean;
  /** Largest vCPU count and whether counts above 1 must be even (Firecracker). */
  maxCpus: number;
  evenCpus: boolean;
  /** Runtime-spec flags (-e, -w, -u, --entrypoint, --hostname, `-- ARGS`) are baked in here; otherwise why not. */
  spec: true | string;
}

export const TARGETS: Readonly<Record<ExportTarget, TargetCapabilities>> = {
  qemu: {
    writes: 'a POSIX sh script for qemu-system-x86_64', networks: ['user', 'none'], defaultNetwork: 'user',
    publish: true, bzImage: true, maxCpus: 255, evenCpus: false, spec: true,
  },
  libvirt: {
    writes: 'a libvirt domain XML', networks: ['user', 'none'], defaultNetwork: 'user',
    publish: "libvirt's user network (SLIRP) forwards no host ports; attach the VM to a libvirt network and forward there",
    bzImage: true, maxCpus: 255, evenCpus: false, spec: true,
  },
  firecracker: {
    // swagger MachineConfiguration.vcpu_count: 1..32, "either 1 or an even number".
    writes: 'a Firecracker --config-file JSON', networks: ['none', 'tap'], defaultNetwork: 'none',
    publish: 'Firecracker has no NAT to forward host ports; with --tap the guest is reachable at --guest-address',
    bzImage: false, maxCpus: 32, evenCpus: true, spec: true,
  },
  'cloud-hypervisor': {
    writes: 'a POSIX sh script for cloud-hypervisor', networks: ['none', 'tap'], defaultNetwork: 'none',
    publish: 'Cloud Hypervisor has no NAT to forward host ports; with --tap the guest is reachable at --guest-address',
    bzImage: true, maxCpus: 255, evenCpus: false, spec: true,
  },
  kubevirt: {
    writes: 'a KubeVirt VirtualMachine YAML', networks: ['pod'], defaultNetwork: 'pod',
    publish: 'KubeVirt publishes through a Service: virtctl expose vm NAME --port HOST --target-port GUEST',
    bzImage: true, maxCpus: 255, evenCpus: false,
    spec: 'the runtime spec travels in the kernelBoot image, not in the VirtualMachine',
  },
};

export function parseExportTarget(text: string): ExportTarget {
  if ((EXPORT_TARGETS as readonly string[]).includes(text)) return text as ExportTarget;
  throw new BadInputError(`--format '${text}' is not an export target`, { hint: `use one of ${EXPORT_TARGETS.join(', ')}` });
}

/** What an export request asks of its target (only the parts a target may refuse). */
export interface ExportWants {
  network?: ExportNetworkMode;
  publishes: boolean;
  volumes: boolean;
  interactive: boolean;
  tty: boolean;
  cpus: number;
  /** Names of the runtime-spec flags given (for the refusal message). */
  specFlags: string[];
}

function refuse(target: ExportTarget, what: string, why: string, hint: string): never {
  throw new BadInputError(`--format ${target}: ${what}: ${why}`, { hint });
}

/** The network the export uses; throws BadInputError for anything the target cannot express. */
export function checkExportRequest(target: ExportTarget, manifest: BundleManifest, w: ExportWants): ExportNetworkMode {
  const caps = TARGETS[target];
  if (!caps.bzImage && manifest.kernel.format !== 'vmlinux') {
    refuse(target, `the bundle's kernel is a ${manifest.kernel.format}`, 'this target boots only an ELF vmlinux', 'rebuild the bundle with the HyperKernel (its vmlinux has a PVH entry)');
  }
  if (manifest.kernel.format === 'vmlinux' && !manifest.kernel.pvh) {
    refuse(target, "the bundle's vmlinux has no PVH entry", 'direct kernel boot needs one', 'rebuild the bundle with the HyperKernel');
  }
  if (w.interactive || w.tty) {
    refuse(target, w.tty ? '-t' : '-i', "an exported VM runs in HyperStart's console mode: the app's stdin is /dev/null and it has no terminal", 'use hyperbuild boot -it for an interactive session');
  }
  if (w.volumes) {
    refuse(target, '-v', 'a volume is a directory of this host served by hyperbuild at boot; an export runs without it', 'copy the files into the image, or use hyperbuild boot -v');
  }
  if (caps.spec !== true && w.specFlags.length) refuse(target, w.specFlags.join(', '), caps.spec, 'give them to hyperbuild push BUNDLE REF --as kubevirt');
  const network = w.network ?? caps.defaultNetwork;
  if (!caps.networks.includes(network)) {
    refuse(target, `--network ${network}`, `this target offers ${caps.networks.join(', ')}`, `use --network ${caps.defaultNetwork}`);
  }
  if (w.publishes && caps.publish !== true) refuse(target, '-p', caps.publish, 'drop the -p flags');
  if (w.publishes && network !== 'user') refuse(target, '-p', 'ports are forwarded only on the user network', 'drop --network none or the -p flags');
  if (w.cpus > caps.maxCpus || (caps.evenCpus && w.cpus > 1 && w.cpus % 2)) {
    refuse(target, `--cpus ${w.cpus}`, `this target takes ${caps.evenCpus ? `1 or an even number up to ${caps.maxCpus}` : `at most ${caps.maxCpus}`}`, 'pick another --cpus');
  }
  return network;
}
