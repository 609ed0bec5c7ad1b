/**
 * newc aligns every header and every file body to 4 bytes, counted from the
 * start of the archive; the kernel's unpacker rejects an archive whose padding
 * is off ("broken padding"), so alignment is computed from the running
 * offset, never from an entry's own size alone.
 */
export const NEWC_ALIGNMENT = 4;

/** Bytes needed after `offset` to reach the next multiple of `alignment`. */
export function paddingAfter(offset: number, alignment: number = NEWC_ALIGNMENT): number {
  const rest = offset % alignment;
  return rest === 0 ? 0 : alignment - rest;
}
