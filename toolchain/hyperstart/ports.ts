/**
 * The virtio-serial port names HyperStart looks for (initramfs/hyperstart/PROTOCOL.md,
 * mirrored in initramfs/hyperstart/protocol.h). Control frames travel on `ctl`;
 * the app's stdout and stderr on their own ports as raw bytes.
 */
export const PORT_NAMES = {
  ctl: 'org.hyperbuild.ctl',
  out: 'org.hyperbuild.stdout',
  err: 'org.hyperbuild.stderr',
} as const;

export type PortName = keyof typeof PORT_NAMES;
