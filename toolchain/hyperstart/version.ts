/**
 * The HyperStart protocol version: bumped with initramfs/hyperstart/PROTOCOL.md
 * (mirrored as HS_PROTOCOL_VERSION in initramfs/hyperstart/protocol.h).
 */
export const HYPERSTART_VERSION = '1';

/** What the guest sends as its `H` frame: `hyperstart VERSION`. */
export const HELLO_PAYLOAD = `hyperstart ${HYPERSTART_VERSION}`;
