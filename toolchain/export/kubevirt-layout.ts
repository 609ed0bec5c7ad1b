/**
 * Where things are in the kernelBoot image that `push --as kubevirt` builds,
 * shared by the image builder (kubevirt-image.ts) and the VirtualMachine it
 * is named in (render-kubevirt.ts). KubeVirt's user guide
 * (boot_from_external_source.md): `kernelPath` and `initrdPath` are paths
 * inside the container image, and the files "must be owned by qemu user &
 * group" (its Dockerfile: `ADD --chown=107:107`). A disk rootfs goes under
 * /disk/, where a containerDisk volume reads its image (storage docs,
 * containerDisk), so the same image serves both.
 */
import type { RootfsType } from '../bundle/manifest.ts';

export const KUBEVIRT_KERNEL_PATH = '/boot/kernel';
export const KUBEVIRT_INITRD_PATH = '/boot/initrd';
/** uid and gid of the qemu user in KubeVirt's virt-launcher. */
export const KUBEVIRT_QEMU_ID = 107;

export function kubevirtDiskPath(type: RootfsType): string {
  return `/disk/rootfs.${type}`;
}
