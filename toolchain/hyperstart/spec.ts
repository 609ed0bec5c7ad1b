/**
 * Encoder/decoder for HyperStart spec records (initramfs/hyperstart/PROTOCOL.md).
 * The build writes one into the initramfs; `boot` sends one over the control channel.
 * The guest's parser is initramfs/hyperstart/spec.c (record framing and key
 * names in protocol.{h,c}).
 */
export const SPEC_HEADER = 'hyperstart-spec 1\n';

/** The record keys (protocol.h SPEC_KEY_*); the guest ignores any other key. */
export const SPEC_KEYS = {
  arg: 'arg', env: 'env', workdir: 'workdir', user: 'user', hostname: 'hostname', tty: 'tty',
  net: 'net', dns: 'dns', volume: 'volume', module: 'module', xattr: 'xattr', rootdisk: 'rootdisk',
  time: 'time', entropy: 'entropy',
} as const;

/** Bounds of an `entropy` value in bytes, both included (protocol.h SPEC_ENTROPY_MIN/MAX). */
export const ENTROPY_BYTES = { min: 32, max: 512 } as const;
/** Largest `time` value: nanoseconds since the epoch as a u64 (protocol.c spec_time_decode). */
export const MAX_TIME_NS = 2n ** 64n - 1n;

export interface NetworkSpec {
  /** `none`, or an interface address like `10.0.2.15/24` with a gateway. */
  mode: 'none' | 'static';
  address?: string;
  gateway?: string;
  dns?: string[];
}

export interface VolumeSpec {
  tag: string;
  guestPath: string;
  readOnly: boolean;
}

export interface HyperStartSpec {
  args: string[];
  env: string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  tty?: boolean;
  network?: NetworkSpec;
  volumes?: VolumeSpec[];
  modules?: string[];
  /** Byte-string path → xattr name → value. */
  xattrs?: { path: string; name: string; value: Buffer }[];
  rootDisk?: { device: string; fsType: string };
  /**
   * Fresh records, honoured only in the runtime spec (PROTOCOL.md "Clock and
   * entropy"): the host's CLOCK_REALTIME in nanoseconds since the epoch, and
   * bytes from the host's CSPRNG, both taken when `S` is sent.
   */
  realtimeNs?: bigint;
  entropy?: Buffer;
}

function record(key: string, value: Buffer): Buffer[] {
  return [Buffer.from(`${key} ${value.length}\n`, 'latin1'), value, Buffer.from('\n')];
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const nulJoin = (...parts: Buffer[]) => {
  const out: Buffer[] = [];
  parts.forEach((p, i) => { if (i) out.push(Buffer.from([0])); out.push(p); });
  return Buffer.concat(out);
};

export function encodeSpec(spec: HyperStartSpec): Buffer {
  const K = SPEC_KEYS;
  const out: Buffer[] = [Buffer.from(SPEC_HEADER)];
  const add = (key: string, value: Buffer) => out.push(...record(key, value));
  for (const a of spec.args) add(K.arg, utf8(a));
  for (const e of spec.env) add(K.env, utf8(e));
  if (spec.workdir) add(K.workdir, utf8(spec.workdir));
  if (spec.user) add(K.user, utf8(spec.user));
  if (spec.hostname) add(K.hostname, utf8(spec.hostname));
  if (spec.tty !== undefined) add(K.tty, utf8(spec.tty ? '1' : '0'));
  if (spec.network) {
    const n = spec.network;
    add(K.net, utf8(n.mode === 'none' ? 'none' : `eth0 ${n.address} ${n.gateway}`));
    for (const d of n.dns ?? []) add(K.dns, utf8(d));
  }
  for (const v of spec.volumes ?? []) add(K.volume, nulJoin(utf8(v.tag), utf8(v.readOnly ? 'ro' : 'rw'), utf8(v.guestPath)));
  for (const m of spec.modules ?? []) add(K.module, utf8(m));
  for (const x of spec.xattrs ?? []) add(K.xattr, nulJoin(Buffer.from(x.path, 'latin1'), utf8(x.name), x.value));
  if (spec.rootDisk) add(K.rootdisk, nulJoin(utf8(spec.rootDisk.device), utf8(spec.rootDisk.fsType)));
  if (spec.realtimeNs !== undefined) add(K.time, encodeTime(spec.realtimeNs));
  if (spec.entropy) add(K.entropy, checkedEntropy(spec.entropy));
  return Buffer.concat(out);
}

/** A `time` value: decimal nanoseconds since the Unix epoch. */
export function encodeTime(ns: bigint): Buffer {
  if (ns < 0n || ns > MAX_TIME_NS) throw new RangeError(`hyperstart spec: time ${ns} ns is outside 0..2^64-1`);
  return Buffer.from(ns.toString(), 'latin1');
}

function checkedEntropy(bytes: Buffer): Buffer {
  if (bytes.length < ENTROPY_BYTES.min || bytes.length > ENTROPY_BYTES.max) {
    throw new RangeError(`hyperstart spec: entropy of ${bytes.length} bytes is outside ${ENTROPY_BYTES.min}..${ENTROPY_BYTES.max}`);
  }
  return bytes;
}

/** Decode into raw records (key, value) — used by tests and `inspect`. */
export function decodeSpecRecords(buf: Buffer): { key: string; value: Buffer }[] {
  if (!buf.subarray(0, SPEC_HEADER.length).equals(Buffer.from(SPEC_HEADER))) {
    throw new Error('not a hyperstart spec: bad header');
  }
  const records: { key: string; value: Buffer }[] = [];
  let pos = SPEC_HEADER.length;
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`hyperstart spec: truncated record header at byte ${pos}`);
    const m = /^([a-z]+) (\d+)$/.exec(buf.toString('latin1', pos, nl));
    if (!m) throw new Error(`hyperstart spec: malformed record header at byte ${pos}`);
    const len = Number(m[2]);
    const start = nl + 1;
    if (start + len + 1 > buf.length || buf[start + len] !== 0x0a) {
      throw new Error(`hyperstart spec: record '${m[1]}' at byte ${pos} overruns the spec`);
    }
    records.push({ key: m[1], value: buf.subarray(start, start + len) });
    pos = start + len + 1;
  }
  return records;
}
