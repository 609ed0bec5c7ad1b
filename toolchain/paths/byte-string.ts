/**
 * File names in images are bytes, not text: a tar entry may carry Latin-1,
 * UTF-8 or invalid UTF-8. Internally every path is a "byte string": a JS
 * string holding one char (0..255) per byte. That keeps names exact through
 * parsing, sorting (code-unit order == byte order) and writing, and lets us use
 * ordinary string operations. Convert to readable text only for messages.
 */
export type ByteString = string;

export function bytesToByteString(buf: Uint8Array): ByteString {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1');
}

export function byteStringToBytes(s: ByteString): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Encode text (UTF-8) as a byte string, e.g. a path we create ourselves. */
export function textToByteString(text: string): ByteString {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** For messages: decode as UTF-8, with invalid bytes shown as U+FFFD. */
export function displayPath(s: ByteString): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
