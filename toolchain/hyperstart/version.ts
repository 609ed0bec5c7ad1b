/**
 * The HyperStart protocol version: bumped with initramfs/hyperstart/PROTOCOL.md
 * (mirrored as HS_PROTOCOL_VERSION in initramfs/hyperstart/protocol.h).
 * 2: the runtime spec carries the host's clock and entropy (`time`, `entropy`).
 * 3: exec, additional processes in the running VM (the N i e k w / r o x frames).
 */
export const HYPERSTART_VERSION: string = '3';

/** What the guest sends as its `H` frame: `hyperstart VERSION`. */
export const HELLO_PAYLOAD = `hyperstart ${HYPERSTART_VERSION}`;
