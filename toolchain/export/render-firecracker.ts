/**
 * `export --format firecracker`: the JSON for `firecracker --no-api
 * --config-file FILE`. docs/getting-started.md: the file holds the same
 * resources as the API requests, with the field names of
 * src/firecracker/swagger/firecracker.yaml:
 * - `boot-source` (BootSource): kernel_image_path (required), initrd_path, boot_args;
 * - `machine-config` (MachineConfiguration): vcpu_count, mem_size_mib (both required);
 * - `drives` (Drive): drive_id, is_root_device (required), path_on_host, is_read_only.
 *   A disk rootfs is not the root device: HyperStart mounts it (docs/initrd.md:
 *   "You should not use a drive with is_root_device: true when using an initrd");
 * - `network-interfaces` (NetworkInterface): iface_id, host_dev_name (required),
 *   only with --tap.
 * Every path is absolute: Firecracker resolves relative ones against its own
 * working directory, not the file's.
 */
import type { ExportPlan } from './plan.ts';

export interface FirecrackerConfig {
  'boot-source': { kernel_image_path: string; initrd_path: string; boot_args: string };
  drives: { drive_id: string; path_on_host: string; is_root_device: boolean; is_read_only: boolean }[];
  'machine-config': { vcpu_count: number; mem_size_mib: number };
  'network-interfaces'?: { iface_id: string; host_dev_name: string }[];
}

export function firecrackerConfig(p: ExportPlan): FirecrackerConfig {
  const config: FirecrackerConfig = {
    'boot-source': { kernel_image_path: p.kernel.path, initrd_path: p.initrd, boot_args: p.cmdline },
    drives: p.rootfs ? [{ drive_id: 'rootfs', path_on_host: p.rootfs.path, is_root_device: false, is_read_only: true }] : [],
    'machine-config': { vcpu_count: p.cpus, mem_size_mib: p.memoryMiB },
  };
  if (p.network.mode === 'tap') config['network-interfaces'] = [{ iface_id: 'eth0', host_dev_name: p.network.tap! }];
  return config;
}

export function renderFirecracker(p: ExportPlan): string {
  return `${JSON.stringify(firecrackerConfig(p), null, 2)}\n`;
}
