/**
 * The host↔guest protocol of HyperStart, in one import: port names, control
 * frames and their payload codecs, spec records and the protocol version.
 * initramfs/hyperstart/PROTOCOL.md is the specification; the guest side
 * mirrors it in initramfs/hyperstart/protocol.{h,c}.
 */
export * from './ports.ts';
export * from './frames.ts';
export * from './spec.ts';
export * from './version.ts';
