/**
 * The HyperStart protocol version: bumped with initramfs/hyperstart/PROTOCOL.md
 * (mirrored as HS_PROTOCOL_VERSION in initramfs/hyperstart/protocol.h).
 * 2: the runtime spec carries the host's clock and entropy (`time`, `entropy`).
 */
export const HYPERSTART_VERSION: string = '2';

/** What the guest sends as its `H` frame: `hyperstart VERSION`. */
export const HELLO_PAYLOAD = `hyperstart ${HYPERSTART_VERSION}`;
