/**
 * GNU long-name records ('L' and 'K'): names too long for the ustar header.
 */
import { bytesToByteString, type ByteString } from '../paths/byte-string.ts';

/**
 * GNU 'L' (long name) and 'K' (long link name) records: a pseudo-entry whose
 * body is the name for the next real entry, NUL-terminated by GNU tar. Only
 * the bytes before the first NUL count, as in GNU tar itself.
 */
export function decodeGnuLongName(body: Buffer): ByteString {
  const nul = body.indexOf(0);
  return bytesToByteString(nul === -1 ? body : body.subarray(0, nul));
}

/** Name GNU tar puts in the 'L'/'K' header itself; readers ignore it. */
export const GNU_LONGNAME_PLACEHOLDER = '././@LongLink';
