/**
 * Embedding a runtime spec in an exported VM. Without hyperbuild there is no
 * control channel, so HyperStart runs in console mode and reads only
 * /.hyperstart/spec (PROTOCOL.md). The export therefore gives the guest an
 * initrd that is the bundle's initramfs, unchanged, followed by one small
 * uncompressed newc archive holding a new /.hyperstart/spec:
 *
 *   bundle initramfs | zero padding | newc { .hyperstart/spec } TRAILER!!!
 *
 * The kernel unpacks concatenated archives in order, each compressed or not,
 * and a later regular file of the same name replaces the earlier one
 * (init/initramfs.c opens it O_TRUNC); tests/export-qemu-boot.test.ts proves
 * that with a real boot for every compression. The padding is at least four
 * zero bytes (the lz4 legacy reader ends its stream at a zero chunk size) and
 * brings the new archive to a 4-byte aligned offset, where the kernel looks
 * for the next cpio magic after skipping zeros. Every target takes one initrd
 * only (Firecracker's initrd_path, KubeVirt's initrdPath), hence one file.
 *
 * The new spec carries the runtime records (args, env, workdir, user,
 * hostname, net, dns) the export was asked for, and the records that always
 * come from the file (module, xattr, rootdisk) copied from the bundle's spec.
 */
import { createReadStream } from 'node:fs';
import type { Compression } from '../bundle/manifest.ts';
import { decompress } from '../compress/decompress.ts';
import { makeMode } from '../cpio/file-mode.ts';
import { readNewc } from '../cpio/newc-reader.ts';
import { writeNewc } from '../cpio/newc-writer.ts';
import { BadInputError } from '../errors/errors.ts';
import { decodeSpecRecords, encodeSpec, type HyperStartSpec } from '../hyperstart/protocol.ts';

/** Name of the spec inside the initramfs (newc names carry no leading '/'). */
export const SPEC_ENTRY_NAME = '.hyperstart/spec';
/** Largest spec file read back from a bundle; real ones are a few KiB (xattrs included). */
const MAX_SPEC_BYTES = 16 * 1024 * 1024;

async function collect(body: AsyncIterable<Buffer>, limit: number, label: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new BadInputError(`${label} is over ${limit} bytes`, { hint: 'rebuild the bundle with hyperbuild build' });
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/**
 * The spec file of a bundle's initramfs. Entries are sorted bytewise and
 * `.hyperstart` sorts before any letter or digit, so reading stops after the
 * first few entries, not after the whole image.
 */
export async function readBundleSpec(initramfsPath: string, compression: Compression): Promise<Buffer> {
  const label = `initramfs ${initramfsPath}`;
  for await (const entry of readNewc(decompress(compression, createReadStream(initramfsPath), label), label)) {
    if (entry.name === SPEC_ENTRY_NAME) return collect(entry.body, MAX_SPEC_BYTES, `${label}: ${SPEC_ENTRY_NAME}`);
  }
  throw new BadInputError(`${label} has no ${SPEC_ENTRY_NAME}`, { hint: 'rebuild the bundle with hyperbuild build' });
}

function splitNul(value: Buffer, parts: number): Buffer[] {
  const out: Buffer[] = [];
  let rest = value;
  while (out.length < parts - 1) {
    const nul = rest.indexOf(0);
    if (nul < 0) break;
    out.push(rest.subarray(0, nul));
    rest = rest.subarray(nul + 1);
  }
  out.push(rest);
  return out;
}

/** The records of `fileSpec` that HyperStart always takes from the file. */
export function fileOnlyRecords(fileSpec: Buffer, label: string): Pick<HyperStartSpec, 'modules' | 'xattrs' | 'rootDisk'> {
  let records: { key: string; value: Buffer }[];
  try {
    records = decodeSpecRecords(fileSpec);
  } catch (err) {
    throw new BadInputError(`${label}: ${(err as Error).message}`, { hint: 'rebuild the bundle with hyperbuild build' });
  }
  const out: Pick<HyperStartSpec, 'modules' | 'xattrs' | 'rootDisk'> = { modules: [], xattrs: [] };
  for (const { key, value } of records) {
    if (key === 'module') out.modules!.push(value.toString('utf8'));
    if (key === 'xattr') {
      const [path, name, bytes] = splitNul(value, 3);
      if (bytes === undefined) throw new BadInputError(`${label}: malformed xattr record`, { hint: 'rebuild the bundle with hyperbuild build' });
      out.xattrs!.push({ path: path.toString('latin1'), name: name.toString('utf8'), value: Buffer.from(bytes) });
    }
    if (key === 'rootdisk') {
      const [device, fsType] = splitNul(value, 2);
      if (fsType === undefined) throw new BadInputError(`${label}: malformed rootdisk record`, { hint: 'rebuild the bundle with hyperbuild build' });
      out.rootDisk = { device: device.toString('utf8'), fsType: fsType.toString('utf8') };
    }
  }
  return out;
}

/** The spec an exported VM boots with: the runtime records plus the file-only ones of the bundle's spec. */
export function exportSpec(fileSpec: Buffer, runtime: HyperStartSpec, label: string): Buffer {
  const { modules, xattrs, rootDisk } = fileOnlyRecords(fileSpec, label);
  return encodeSpec({ ...runtime, volumes: [], modules, xattrs, rootDisk });
}

/** Zero bytes after an archive of `size` bytes: at least 4, up to a 4-byte aligned end. */
export function paddingAfterArchive(size: number): number {
  return 4 + ((4 - (size % 4)) % 4);
}

/** The bytes appended to a bundle initramfs of `initramfsSize` bytes: padding, then a newc archive with the spec. */
export async function specSegment(spec: Buffer, initramfsSize: number, mtime: number): Promise<Buffer> {
  const entry = {
    name: SPEC_ENTRY_NAME,
    header: {
      ino: 1, mode: makeMode('file', 0o644), uid: 0, gid: 0, nlink: 1, mtime, filesize: spec.length,
      devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0,
    },
    body: [spec],
  };
  const parts: Buffer[] = [Buffer.alloc(paddingAfterArchive(initramfsSize))];
  for await (const chunk of writeNewc([entry])) parts.push(chunk);
  return Buffer.concat(parts);
}

/** The exported initrd as a stream: the bundle's initramfs bytes, then the segment. */
export async function* initrdWithSegment(initramfsPath: string, segment: Buffer): AsyncGenerator<Buffer> {
  for await (const chunk of createReadStream(initramfsPath)) yield chunk as Buffer;
  yield segment;
}
