/**
 * HyperStart's protocol code compiled for the host and run here, no VM: the
 * C spec parser (initramfs/hyperstart/spec.c + protocol.c) on hostile input —
 * truncated records, huge lengths, NULs inside values, unknown keys, empty
 * input, random mutations — against what protocol.ts encodes and decodes; the
 * C frame and payload codecs against protocol.ts; the fresh records of protocol
 * 2 (`time`, `entropy`: bounds, overflow, lying lengths); and the C layering (no
 * call cycle between HyperStart's files, util.c and log.c call no upper layer).
 *
 * The driver (initramfs/hyperstart/test/protocol-driver.c) is built with the
 * host gcc, with AddressSanitizer and UBSan when this gcc has them, so a read
 * past the end of a record fails the test even when the parser's verdict is right.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  decodeSpecRecords, encodeExitPayload, encodeFrame, encodeSpec, encodeTime, ENTROPY_BYTES, GUEST_FRAME_TYPES, HELLO_PAYLOAD, HOST_FRAME_TYPES,
  HYPERSTART_VERSION, MAX_TIME_NS, PORT_NAMES, SPEC_HEADER, signalFrame, windowSizeFrame, FRAME_HEADER_BYTES, type HyperStartSpec,
  EXEC_STREAM, MAX_FRAME_PAYLOAD, withExecId,
} from '../toolchain/hyperstart/protocol.ts';
import { cCallGraph, graphCycles, reachable } from './helpers/c-calls.ts';

const HS = resolve(import.meta.dirname, '..', 'initramfs', 'hyperstart');
const tmp = mkdtempSync(join(tmpdir(), 'hyperstart-spec-c-'));

/** Build the driver; sanitized when the compiler can (a failure there is not hidden: the plain build must then succeed). */
function buildDriver(): { bin: string; sanitized: boolean } {
  const bin = join(tmp, 'protocol-driver');
  const sources = ['test/protocol-driver.c', 'spec.c', 'protocol.c', 'util.c'].map((f) => join(HS, f));
  const base = ['-std=gnu11', '-g', '-O1', '-Wall', '-Wextra', '-Werror', '-D_GNU_SOURCE', '-o', bin, ...sources];
  const san = spawnSync('gcc', ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer', ...base], { encoding: 'utf8' });
  if (san.status === 0) return { bin, sanitized: true };
  const plain = spawnSync('gcc', base, { encoding: 'utf8' });
  if (plain.status !== 0) throw new Error(`cannot compile the protocol driver:\n${plain.stderr || plain.error}`);
  console.log(`hyperstart-spec-c: gcc has no -fsanitize=address,undefined here; running unsanitized\n${san.stderr}`);
  return { bin, sanitized: false };
}

const driver = buildDriver();

function runDriver(args: string[]): string {
  const r = spawnSync(driver.bin, args, {
    encoding: 'utf8', maxBuffer: 64 << 20,
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0', UBSAN_OPTIONS: 'print_stacktrace=1' },
  });
  // A sanitizer report goes to stderr and ends the driver with a non-zero status.
  assert.is(r.stderr, '', `the driver reported on stderr:\n${r.stderr}`);
  assert.is(r.status, 0, `driver exit status ${r.status} (signal ${r.signal})`);
  return r.stdout;
}

/** What spec_parse made of an input; strings are hex, as the driver prints them. */
interface Parsed {
  ok: true;
  args: string[]; env: string[]; dns: string[]; modules: string[];
  workdir: string | null; user: string | null; hostname: string | null; net: string | null;
  tty: number;
  volumes: { tag: string; readonly: number; path: string }[];
  xattrs: { path: string; name: string; value: string }[];
  rootdisk: string | null; rootfstype: string | null;
  /** Nanoseconds as decimal text; entropy as hex. */
  time: string | null; entropy: string | null;
}
type Verdict = Parsed | { ok: false; error: string };

let inputs = 0;
/** spec_parse's verdict on each input, in one driver run. */
function parseAll(bufs: Buffer[]): Verdict[] {
  const files = bufs.map((b) => {
    const f = join(tmp, `in-${inputs++}`);
    writeFileSync(f, b);
    return f;
  });
  const lines = runDriver(files).trim().split('\n');
  assert.is(lines.length, bufs.length);
  return lines.map((l) => {
    const v = JSON.parse(l);
    return v.ok ? v : { ok: false, error: Buffer.from(v.error, 'hex').toString() };
  });
}
const parse = (b: Buffer) => parseAll([b])[0];

const h = (s: string | Buffer) => (typeof s === 'string' ? Buffer.from(s, 'utf8') : s).toString('hex');
const rec = (key: string, value: string | Buffer) => {
  const v = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  return Buffer.concat([Buffer.from(`${key} ${v.length}\n`, 'latin1'), v, Buffer.from('\n')]);
};
const specOf = (...records: (Buffer | string)[]) => Buffer.concat([Buffer.from(SPEC_HEADER), ...records.map((r) => (typeof r === 'string' ? Buffer.from(r, 'latin1') : r))]);

const empty: Parsed = {
  ok: true, args: [], env: [], dns: [], modules: [], workdir: null, user: null, hostname: null, net: null,
  tty: 0, volumes: [], xattrs: [], rootdisk: null, rootfstype: null, time: null, entropy: null,
};

/** What spec.c must make of decoded records (PROTOCOL.md): string values end at a NUL, xattr values keep every byte. */
function expected(records: { key: string; value: Buffer }[]): Verdict {
  const cut = (b: Buffer) => { const z = b.indexOf(0); return (z < 0 ? b : b.subarray(0, z)).toString('hex'); };
  const split3 = (b: Buffer) => {
    const a = b.indexOf(0);
    const c = a < 0 ? -1 : b.indexOf(0, a + 1);
    return c < 0 ? undefined : [b.subarray(0, a), b.subarray(a + 1, c), b.subarray(c + 1)];
  };
  const p: Parsed = structuredClone(empty);
  for (const { key, value } of records) {
    if (key === 'arg' || key === 'env' || key === 'dns') p[key === 'arg' ? 'args' : key].push(cut(value));
    else if (key === 'module') p.modules.push(cut(value));
    else if (key === 'workdir' || key === 'user' || key === 'hostname' || key === 'net') p[key] = cut(value);
    else if (key === 'tty') p.tty = value.length === 1 && value[0] === 0x31 ? 1 : 0;
    else if (key === 'volume' || key === 'xattr') {
      const f = split3(value);
      if (!f) return { ok: false, error: `spec: malformed ${key} record` };
      if (key === 'volume') p.volumes.push({ tag: cut(f[0]), readonly: f[1].equals(Buffer.from('rw')) ? 0 : 1, path: cut(f[2]) });
      else p.xattrs.push({ path: cut(f[0]), name: cut(f[1]), value: f[2].toString('hex') });
    } else if (key === 'rootdisk') {
      const z = value.indexOf(0);
      if (z < 0) return { ok: false, error: 'spec: malformed rootdisk record' };
      p.rootdisk = cut(value.subarray(0, z));
      p.rootfstype = cut(value.subarray(z + 1));
    } else if (key === 'time') {
      const text = value.toString('latin1');
      if (!/^[0-9]{1,20}$/.test(text) || BigInt(text) > MAX_TIME_NS) return { ok: false, error: 'spec: malformed time record' };
      p.time = BigInt(text).toString();
    } else if (key === 'entropy') {
      if (value.length < ENTROPY_BYTES.min || value.length > ENTROPY_BYTES.max) return { ok: false, error: ENTROPY_ERROR };
      p.entropy = value.toString('hex');
    }
  }
  return p;
}

const ENTROPY_ERROR = 'spec: entropy record must hold 32 to 512 bytes';

/** A refusal of the record framing itself (what decodeSpecRecords also refuses). */
const FRAMING_ERROR = /^spec: (bad header \(expected 'hyperstart-spec 1'\)|truncated record header|malformed record (header|key|length)|record overruns the spec)$/;

/** The C verdict must be what protocol.ts's decoder plus PROTOCOL.md's meaning say. */
function assertAgrees(input: Buffer, got: Verdict, what: string) {
  let records;
  try {
    records = decodeSpecRecords(input);
  } catch (err) {
    assert.is(got.ok, false, `${what}: decodeSpecRecords refuses (${(err as Error).message}) but spec_parse accepts`);
    assert.match((got as { error: string }).error, FRAMING_ERROR, what);
    return;
  }
  assert.equal(got, expected(records), `${what}: input ${input.toString('hex')}`);
}

const rich: HyperStartSpec = {
  args: ['/bin/sh', '-c', 'echo "a b"\nexit 3', '', 'ünïcødé ✓'],
  env: ['PATH=/bin', 'EMPTY=', 'MULTI=line1\nline2'],
  workdir: '/srv/app dir',
  user: '1000:extra',
  hostname: 'box',
  tty: true,
  network: { mode: 'static', address: '10.0.2.15/24', gateway: '10.0.2.2', dns: ['10.0.2.3', '1.1.1.1'] },
  volumes: [{ tag: 'vol0', guestPath: '/data', readOnly: true }, { tag: 'vol1', guestPath: '/rw space', readOnly: false }],
  modules: ['/.hyperstart/modules/virtio_pci.ko', '/.hyperstart/modules/virtio_console.ko'],
  xattrs: [{ path: '/usr/bin/ping', name: 'security.capability', value: Buffer.from([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0x0a, 0]) }],
  rootDisk: { device: '/dev/vda', fsType: 'ext4' },
  realtimeNs: 1_764_579_600_123_456_789n,
  // Every byte value, newlines and NULs included: entropy is binary.
  entropy: Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + 10) & 0xff)),
};

test.after(() => rmSync(tmp, { recursive: true, force: true }));

test(`the driver is built${driver.sanitized ? ' with AddressSanitizer and UBSan' : ''}`, () => {
  assert.ok(driver.bin);
});

test('round trip: everything encodeSpec writes is what spec_parse reads', () => {
  assert.equal(parse(encodeSpec(rich)), {
    ...empty,
    args: rich.args.map(h), env: rich.env.map(h), dns: ['10.0.2.3', '1.1.1.1'].map(h), modules: rich.modules!.map(h),
    workdir: h('/srv/app dir'), user: h('1000:extra'), hostname: h('box'), net: h('eth0 10.0.2.15/24 10.0.2.2'), tty: 1,
    volumes: [{ tag: h('vol0'), readonly: 1, path: h('/data') }, { tag: h('vol1'), readonly: 0, path: h('/rw space') }],
    xattrs: [{ path: h('/usr/bin/ping'), name: h('security.capability'), value: h(rich.xattrs![0].value) }],
    rootdisk: h('/dev/vda'), rootfstype: h('ext4'), time: '1764579600123456789', entropy: h(rich.entropy!),
  });
  assert.equal(parse(encodeSpec({ args: ['true'], env: [], tty: false, network: { mode: 'none' } })), { ...empty, args: [h('true')], net: h('none') });
});

test('header: empty input and wrong or partial headers are refused; a header alone is an empty spec', () => {
  const bad = { ok: false, error: "spec: bad header (expected 'hyperstart-spec 1')" };
  const got = parseAll([Buffer.alloc(0), Buffer.from('hyperstart-spec 1'), Buffer.from('hyperstart-spec 2\n'), Buffer.from('\0'.repeat(40)), Buffer.from('arg 1\nx\n')]);
  got.forEach((v, i) => assert.equal(v, bad, `input ${i}`));
  assert.equal(parse(Buffer.from(SPEC_HEADER)), empty);
});

test('truncated at every byte: refused unless cut exactly at a record boundary', () => {
  const full = encodeSpec(rich);
  const prefixes = Array.from({ length: full.length + 1 }, (_, n) => full.subarray(0, n));
  const verdicts = parseAll(prefixes);
  let accepted = 0;
  prefixes.forEach((p, n) => {
    assertAgrees(p, verdicts[n], `prefix of ${n} bytes`);
    if (verdicts[n].ok) accepted++;
  });
  // The header alone, then one more for each record (5 args, 3 env, workdir, user, hostname, tty, net, 2 dns, 2 volumes, 2 modules, 1 xattr, rootdisk, time, entropy).
  assert.is(accepted, 1 + 23);
});

test('huge and lying lengths are refused without reading past the end', () => {
  const cases: [string, string][] = [
    [rec('arg', 'abc').toString('latin1').replace('arg 3', 'arg 4'), 'spec: record overruns the spec'],
    [rec('arg', 'abc').toString('latin1').replace('arg 3', 'arg 2'), 'spec: record overruns the spec'],
    ['arg 18446744073709551616\nx\n', 'spec: malformed record length'], // 2^64: would wrap a size_t
    ['arg 18446744073709551615\nx\n', 'spec: malformed record length'],
    [`arg ${'9'.repeat(400)}\nx\n`, 'spec: malformed record length'],
    ['arg 4294967297\nx\n', 'spec: malformed record length'], // 2^32 + 1: would wrap a u32
    ['arg 1000\n' + 'x'.repeat(999) + '\n', 'spec: record overruns the spec'],
    ['arg 3\nabc', 'spec: record overruns the spec'], // the closing newline is missing
    ['arg 0', 'spec: truncated record header'],
    ['arg \nx\n', 'spec: malformed record length'],
    ['arg -1\nx\n', 'spec: malformed record length'],
    ['arg +1\nx\n', 'spec: malformed record length'],
    ['arg 0x1\nx\n', 'spec: malformed record length'],
    ['arg 1 \nx\n', 'spec: malformed record length'],
    ['arg  1\nx\n', 'spec: malformed record length'],
  ];
  const got = parseAll(cases.map(([body]) => specOf(body)));
  cases.forEach(([body, error], i) => {
    assert.equal(got[i], { ok: false, error }, JSON.stringify(body));
    assertAgrees(specOf(body), got[i], JSON.stringify(body));
  });
  assert.equal(parse(specOf('arg 0003\nabc\n', 'arg 0\n\n')), { ...empty, args: [h('abc'), ''] });
});

test('NULs: string values end at one, xattr values keep them, keys and lengths refuse them', () => {
  const nul = parse(specOf(rec('arg', 'a\0b'), rec('env', '\0X=1'), rec('workdir', '/w\0/evil'), rec('arg', 'next'),
    rec('xattr', '/f\0user.k\0\0v\0\n'), rec('volume', 't\0rw\0/m\0x'), rec('rootdisk', '/dev/vda\0ext4\0junk')));
  assert.equal(nul, {
    ...empty, args: [h('a'), h('next')], env: [''], workdir: h('/w'),
    xattrs: [{ path: h('/f'), name: h('user.k'), value: h('\0v\0\n') }],
    volumes: [{ tag: h('t'), readonly: 0, path: h('/m') }], rootdisk: h('/dev/vda'), rootfstype: h('ext4'),
  });
  const refused: [string, string][] = [
    ['ar\0g 1\nx\n', 'spec: malformed record key'],
    ['arg 1\0\nx\n', 'spec: malformed record length'],
    ['arg\0 1\nx\n', 'spec: malformed record key'],
    [rec('volume', 'tag-only').toString('latin1'), 'spec: malformed volume record'],
    [rec('volume', 't\0ro').toString('latin1'), 'spec: malformed volume record'],
    [rec('xattr', '/f\0user.k').toString('latin1'), 'spec: malformed xattr record'],
    [rec('xattr', '').toString('latin1'), 'spec: malformed xattr record'],
    [rec('rootdisk', '/dev/vda').toString('latin1'), 'spec: malformed rootdisk record'],
  ];
  const got = parseAll(refused.map(([body]) => specOf(body)));
  refused.forEach(([body, error], i) => assert.equal(got[i], { ok: false, error }, JSON.stringify(body)));
});

test('keys: unknown ones are skipped but still framed; malformed ones are refused', () => {
  assert.equal(parse(specOf(rec('zzz', 'ignored\nvalue'), rec('arg', 'x'), rec('futurekey', '\0\0\0'), rec('tty', '1'))), { ...empty, args: [h('x')], tty: 1 });
  const refused: [string, string][] = [
    [rec('zzz', 'abc').toString('latin1').replace('zzz 3', 'zzz 9'), 'spec: record overruns the spec'],
    [rec('Arg', 'x').toString('latin1'), 'spec: malformed record key'],
    [rec('arg1', 'x').toString('latin1'), 'spec: malformed record key'],
    [' 1\nx\n', 'spec: malformed record header'],
    ['arg\nx\n', 'spec: malformed record header'],
    ['\n', 'spec: malformed record header'],
    ['arg', 'spec: truncated record header'],
  ];
  const got = parseAll(refused.map(([body]) => specOf(body)));
  refused.forEach(([body, error], i) => assert.equal(got[i], { ok: false, error }, JSON.stringify(body)));
});

test('tty is on only for the value "1"; repeated single keys keep the last value', () => {
  const got = parseAll(['1', '0', '11', '', 'yes', '1\0'].map((v) => specOf(rec('tty', v))));
  assert.equal(got.map((v) => (v as Parsed).tty), [1, 0, 0, 0, 0, 0]);
  assert.equal(parse(specOf(rec('user', 'a'), rec('user', 'b'), rec('hostname', 'h1'), rec('hostname', 'h2'))), { ...empty, user: h('b'), hostname: h('h2') });
});

test('time: decimal nanoseconds up to 2^64-1; anything else is refused, never wrapped', () => {
  const max = MAX_TIME_NS.toString(); // 18446744073709551615
  const good: [string, string][] = [['0', '0'], ['1', '1'], ['0000000000000000001', '1'], [max, max], ['1764579600123456789', '1764579600123456789']];
  const bad = ['', '18446744073709551616', '99999999999999999999', '000000000000000000001', '-1', '+1', '1.5', '1e9', ' 1', '1 ', '1\n', '0x10', '\u0661', '1\0'];
  const got = parseAll([...good.map(([v]) => specOf(rec('time', v))), ...bad.map((v) => specOf(rec('time', v)))]);
  good.forEach(([v, ns], i) => assert.equal(got[i], { ...empty, time: ns }, JSON.stringify(v)));
  bad.forEach((v, i) => assert.equal(got[good.length + i], { ok: false, error: 'spec: malformed time record' }, JSON.stringify(v)));
  // The decoder alone (protocol.c), on the same values, and what protocol.ts writes for them.
  const decoded = JSON.parse(runDriver(['--time', ...good.map(([v]) => v), '20000000000000000000', 'x']));
  assert.equal(decoded, [...good.map(([, ns]) => [0, ns]), [-1], [-1]]);
  for (const ns of [0n, 1n, 1_764_579_600_123_456_789n, MAX_TIME_NS]) assert.is(encodeTime(ns).toString(), ns.toString());
  assert.throws(() => encodeTime(-1n), /outside/);
  assert.throws(() => encodeTime(MAX_TIME_NS + 1n), /outside/);
  // Repeated: the last one counts, as for every single-valued key.
  assert.equal(parse(specOf(rec('time', '5'), rec('time', '7'))), { ...empty, time: '7' });
});

test('entropy: 32 to 512 bytes of anything; shorter, longer and lying lengths are refused', () => {
  const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) & 0xff));
  const sizes = [0, 1, 31, 32, 33, 64, 511, 512, 513, 4096, 65536];
  const got = parseAll(sizes.map((n) => specOf(rec('entropy', bytes(n)))));
  sizes.forEach((n, i) => {
    const ok = n >= ENTROPY_BYTES.min && n <= ENTROPY_BYTES.max;
    assert.equal(got[i], ok ? { ...empty, entropy: bytes(n).toString('hex') } : { ok: false, error: ENTROPY_ERROR }, `${n} bytes`);
  });
  // NULs and newlines inside are data; a record may follow; the last entropy record counts.
  const nasty = Buffer.concat([Buffer.from('\n\0entropy 5\n'), bytes(40)]);
  assert.equal(parse(specOf(rec('entropy', bytes(32, 2)), rec('entropy', nasty), rec('arg', 'x'))), { ...empty, args: [h('x')], entropy: nasty.toString('hex') });
  // Lengths that lie about the value: refused by the framing before the meaning is looked at.
  const lying: [string, string][] = [
    [`entropy 64\n${'e'.repeat(63)}\n`, 'spec: record overruns the spec'],
    [`entropy 64\n${'e'.repeat(65)}\n`, 'spec: record overruns the spec'],
    ['entropy 18446744073709551616\nx\n', 'spec: malformed record length'],
    [`entropy 4294967328\n${'e'.repeat(32)}\n`, 'spec: malformed record length'], // 2^32 + 32: would pass a 32-bit check
  ];
  const verdicts = parseAll(lying.map(([body]) => specOf(body)));
  lying.forEach(([body, error], i) => {
    assert.equal(verdicts[i], { ok: false, error }, body.slice(0, 30));
    assertAgrees(specOf(body), verdicts[i], body.slice(0, 30));
  });
  // What protocol.ts refuses to write, the guest refuses to read.
  assert.throws(() => encodeSpec({ args: ['x'], env: [], entropy: bytes(31) }), /outside 32\.\.512/);
  assert.throws(() => encodeSpec({ args: ['x'], env: [], entropy: bytes(513) }), /outside 32\.\.512/);
});

test('spec_fresh_encode (for C hosts: the supervisor) writes the bytes encodeSpec writes for time and entropy', () => {
  const fresh = (ns: bigint, e: Buffer, cap?: number) => Buffer.from(JSON.parse(runDriver(['--fresh', ns.toString(), e.toString('hex'), ...(cap === undefined ? [] : [String(cap)])])), 'hex');
  const ts = (ns: bigint, e: Buffer) => encodeSpec({ args: [], env: [], realtimeNs: ns, entropy: e }).subarray(SPEC_HEADER.length);
  for (const [ns, n] of [[0n, 32], [1_764_579_600_123_456_789n, 64], [MAX_TIME_NS, 512]] as const) {
    const e = Buffer.from(Array.from({ length: n }, (_, i) => (i * 59 + 10) & 0xff));
    const got = fresh(ns, e);
    assert.equal(got.toString('hex'), ts(ns, e).toString('hex'), `${ns} ns, ${n} bytes`);
    // And the guest reads back what it wrote.
    assert.equal(parse(Buffer.concat([Buffer.from(SPEC_HEADER), got])), { ...empty, time: ns.toString(), entropy: e.toString('hex') });
  }
  assert.is(fresh(1n, Buffer.alloc(31)).length, 0, 'too little entropy is refused');
  assert.is(fresh(1n, Buffer.alloc(513)).length, 0, 'too much entropy is refused');
  assert.is(fresh(1n, Buffer.alloc(64), 100).length, 0, 'a buffer under SPEC_FRESH_MAX is refused');
});

/** Deterministic PRNG, so a failing case is reproducible from its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

/** A random spec: known and unknown keys, values with NULs and newlines. */
function randomSpec(rand: () => number): Buffer {
  const keys = ['arg', 'env', 'workdir', 'user', 'hostname', 'tty', 'net', 'dns', 'volume', 'module', 'xattr', 'rootdisk', 'time', 'entropy', 'zz', 'x'];
  const alphabet = ['a', '/', '\0', '\n', ' ', '1', 'rw', 'ro', '\xff', '='];
  const records: Buffer[] = [];
  for (let i = Math.floor(rand() * 8); i > 0; i--) {
    const key = keys[Math.floor(rand() * keys.length)];
    if (key === 'entropy' && rand() < 0.7) {
      // Around the bounds (31, 32, 512, 513 bytes), any byte values.
      const n = [0, 31, 32, 33, 64, 511, 512, 513][Math.floor(rand() * 8)];
      records.push(rec(key, Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)))));
      continue;
    }
    if (key === 'time' && rand() < 0.5) {
      records.push(rec(key, String(Math.floor(rand() * 1e15)) + '0'.repeat(Math.floor(rand() * 8))));
      continue;
    }
    let v = '';
    for (let j = Math.floor(rand() * 12); j > 0; j--) v += alphabet[Math.floor(rand() * alphabet.length)];
    records.push(rec(key, v));
  }
  return specOf(...records);
}

/** One random edit: a byte changed, bytes inserted or removed, a length digit changed, a cut. */
function mutate(b: Buffer, rand: () => number): Buffer {
  const at = Math.floor(rand() * (b.length + 1));
  const pick = (s: string) => s[Math.floor(rand() * s.length)];
  switch (Math.floor(rand() * 5)) {
    case 0: { const c = Buffer.from(b); if (at < c.length) c[at] = Math.floor(rand() * 256); return c; }
    case 1: return Buffer.concat([b.subarray(0, at), Buffer.from(pick('0123456789 \n\0a'), 'latin1'), b.subarray(at)]);
    case 2: return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(rand() * 4))]);
    case 3: { const c = Buffer.from(b); const digits = [...c.keys()].filter((i) => c[i] >= 0x30 && c[i] <= 0x39); if (digits.length) c[digits[Math.floor(rand() * digits.length)]] = pick('0123456789').charCodeAt(0); return c; }
    default: return b.subarray(0, at);
  }
}

test('random specs and mutations (600 seeded cases): spec_parse agrees with decodeSpecRecords and PROTOCOL.md', () => {
  const cases: { seed: number; input: Buffer }[] = [];
  const base = encodeSpec(rich);
  for (let seed = 1; seed <= 600; seed++) {
    const rand = rng(seed);
    let input = seed % 2 ? randomSpec(rand) : base;
    for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) input = mutate(input, rand);
    cases.push({ seed, input });
  }
  const got = parseAll(cases.map((c) => c.input));
  cases.forEach((c, i) => assertAgrees(c.input, got[i], `seed ${c.seed}`));
  const accepted = got.filter((v) => v.ok).length;
  assert.ok(accepted > 50 && accepted < 550, `a useful mix of accepted and refused inputs (${accepted} accepted)`);
});

test('the C protocol constants and codecs are those of protocol.ts', () => {
  const c = JSON.parse(runDriver(['--protocol']));
  assert.is(c.version, HYPERSTART_VERSION);
  assert.is(c.hello, HELLO_PAYLOAD);
  assert.equal(c.ports, [PORT_NAMES.ctl, PORT_NAMES.out, PORT_NAMES.err]);
  assert.is(Buffer.from(c.specHeader, 'hex').toString(), SPEC_HEADER);
  assert.is(c.guestFrames, GUEST_FRAME_TYPES.join(''));
  assert.is(c.hostFrames, HOST_FRAME_TYPES.join(''));
  // The driver encodes (and decodes back) the header of a K frame of 0x010203 payload bytes.
  assert.is(c.header, encodeFrame('K', Buffer.alloc(0x010203)).subarray(0, FRAME_HEADER_BYTES).toString('hex'));
  assert.equal(c.headerDecoded, [1, 0, 'K', 0x010203]);
  assert.is(c.exit, encodeExitPayload({ code: 137, stdoutBytes: 5, stderrBytes: 2 ** 33 }).toString('hex'));
  // The driver decodes K [0,0,0,15] and W [0,33,1,44]; protocol.ts encodes them the same way.
  assert.equal(c.kill, [0, 15, -1]);
  assert.is(signalFrame(15).subarray(FRAME_HEADER_BYTES).toString('hex'), '0000000f');
  assert.equal(c.winsize, [0, 33, 300, -1]);
  assert.equal(c.entropyBytes, [ENTROPY_BYTES.min, ENTROPY_BYTES.max]);
  assert.is(windowSizeFrame(33, 300).subarray(FRAME_HEADER_BYTES).toString('hex'), '0021012c');
  // Exec (protocol 3): ids, stream numbers, the frame bound, and the host-side codecs the supervisor links.
  assert.is(c.execId, withExecId(0x01020304).toString('hex'));
  assert.is(c.execIdDecoded, 0x01020304);
  assert.equal(c.streams, [EXEC_STREAM.stdout, EXEC_STREAM.stderr]);
  assert.is(c.maxFrame, MAX_FRAME_PAYLOAD);
  assert.equal(c.exitDecoded, [0, 137, 5, 2 ** 33, -1]);
});

const cFiles = readdirSync(HS).filter((f) => f.endsWith('.c')).map((f) => join(HS, f));

test('HyperStart C files call each other without a cycle; util.c and log.c call no upper layer', () => {
  const graph = cCallGraph(cFiles);
  assert.ok(graph.get('main.c')!.includes('app.c') && graph.get('app.c')!.includes('channel.c'), 'the call graph sees calls');
  assert.equal(graphCycles(graph).map((c) => c.join(' → ')), []);
  assert.equal(reachable(graph, 'util.c'), [], 'util.c is the bottom layer');
  assert.equal(reachable(graph, 'log.c'), ['util.c'], 'log.c knows nothing of the channel');
  assert.equal(reachable(graph, 'protocol.c'), [], 'protocol.c is pure byte layouts');
  assert.equal(reachable(graph, 'spec.c'), ['protocol.c', 'util.c'], 'spec.c builds for the host with these two alone');
});

test('the cycle finder finds cycles (the layering check can fail)', () => {
  const graph = new Map([['channel.c', ['log.c']], ['log.c', ['channel.c', 'util.c']], ['util.c', []], ['a.c', ['a.c']]]);
  assert.equal(graphCycles(graph), [['a.c', 'a.c'], ['channel.c', 'log.c', 'channel.c']]);
  assert.equal(reachable(graph, 'log.c'), ['channel.c', 'util.c']);
});

test.run();
