/** Bumped with initramfs/hyperstart/PROTOCOL.md. */
export const HYPERSTART_VERSION = '1';
