/**
 * The host's control-frame codec (toolchain/hyperstart/frames.ts, through
 * protocol.ts): framing under any chunking, corrupt lengths, and the payload
 * layouts PROTOCOL.md fixes. The guest's C mirror is checked against the same
 * module in hyperstart-spec-c.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import {
  decodeExitPayload, encodeExitPayload, encodeFrame, encodeSignalPayload, encodeWindowSizePayload, FrameDecoder, GUEST_FRAME_TYPES,
  HELLO_PAYLOAD, HOST_FRAME_TYPES, HYPERSTART_VERSION, MAX_FRAME_PAYLOAD, signalFrame, windowSizeFrame, type Frame,
} from '../toolchain/hyperstart/protocol.ts';

/** Deterministic PRNG so a failing chunking is reproducible from the seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

function sampleStream(): { bytes: Buffer; frames: Frame[] } {
  const frames: Frame[] = [
    { type: 'H', payload: Buffer.from(HELLO_PAYLOAD) },
    { type: 'R', payload: Buffer.alloc(0) },
    // Payloads that look like frame headers must not confuse the parser.
    { type: 'F', payload: Buffer.from('X\0\0\0\x14 not a frame \n H\0\0\0\0') },
    { type: 'I', payload: Buffer.alloc(70_000, 0xab) },
    { type: 'X', payload: encodeExitPayload({ code: 42, stdoutBytes: 2 ** 40 + 3, stderrBytes: 7 }) },
  ];
  return { bytes: Buffer.concat(frames.map((f) => encodeFrame(f.type as 'H', f.payload))), frames };
}

test('decodes frames under arbitrary chunking (random splits, 200 seeds)', () => {
  const { bytes, frames } = sampleStream();
  for (let seed = 1; seed <= 200; seed++) {
    const rand = rng(seed);
    const d = new FrameDecoder();
    const got: Frame[] = [];
    let pos = 0;
    while (pos < bytes.length) {
      const max = rand() < 0.3 ? 3 : rand() < 0.5 ? 40 : 20_000;
      const n = 1 + Math.floor(rand() * max);
      got.push(...d.push(bytes.subarray(pos, pos + n)));
      pos += n;
    }
    assert.is(got.length, frames.length, `seed ${seed}`);
    got.forEach((f, i) => {
      assert.is(f.type, frames[i].type, `seed ${seed} frame ${i}`);
      assert.ok(f.payload.equals(frames[i].payload), `seed ${seed} frame ${i} payload`);
    });
    assert.is(d.buffered, 0);
  }
});

test('one byte at a time and all at once give the same frames', () => {
  const { bytes, frames } = sampleStream();
  const a = new FrameDecoder();
  const one: Frame[] = [];
  for (const b of bytes) one.push(...a.push(Buffer.from([b])));
  const all = new FrameDecoder().push(bytes);
  assert.equal(one.map((f) => f.type), frames.map((f) => f.type));
  assert.equal(all.map((f) => f.payload.length), frames.map((f) => f.payload.length));
});

test('a partial frame stays buffered until completed', () => {
  const d = new FrameDecoder();
  const f = encodeFrame('H', Buffer.from('hyperstart 1'));
  assert.equal(d.push(f.subarray(0, 7)), []);
  assert.is(d.buffered, 7);
  const [h] = d.push(f.subarray(7));
  assert.is(h.payload.toString(), 'hyperstart 1');
});

test('a corrupt length is an error, not an unbounded buffer', () => {
  const bad = Buffer.from([0x58, 0xff, 0xff, 0xff, 0xff]);
  assert.throws(() => new FrameDecoder().push(bad), /corrupt control stream/);
  assert.ok(MAX_FRAME_PAYLOAD < 0xffffffff);
});

test('K, W and X payload layouts follow PROTOCOL.md', () => {
  assert.equal([...signalFrame(15)], [0x4b, 0, 0, 0, 4, 0, 0, 0, 15]);
  assert.equal([...windowSizeFrame(24, 80)], [0x57, 0, 0, 0, 4, 0, 24, 0, 80]);
  const x = decodeExitPayload(encodeExitPayload({ code: 137, stdoutBytes: 5, stderrBytes: 2 ** 33 }));
  assert.equal(x, { code: 137, stdoutBytes: 5, stderrBytes: 2 ** 33 });
  assert.throws(() => decodeExitPayload(Buffer.alloc(4)), /malformed X/);
  assert.equal([...encodeFrame('B')], [0x42, 0, 0, 0, 0]);
  assert.equal([...encodeSignalPayload(9)], [0, 0, 0, 9]);
  assert.equal([...encodeWindowSizePayload(70000, -3)], [0xff, 0xff, 0, 0], 'W clamps to u16');
});

/** The frame letters PROTOCOL.md's tables give for one direction: the control-frame tables under their headings, the exec table by its direction column. */
function documentedFrames(spec: string, direction: 'guest' | 'host'): string[] {
  const letters: string[] = [];
  let section = '';
  for (const line of spec.split('\n')) {
    if (/^(Guest|Host) .*(→|->)/i.test(line) || /^#+ /.test(line)) section = line;
    const row = /^\| `([A-Za-z])` \|( (guest|host) → (guest|host) \|)?/.exec(line);
    if (!row) continue;
    const from = row[3] ?? (/^guest/i.test(section) ? 'guest' : /^host/i.test(section) ? 'host' : undefined);
    if (from === direction) letters.push(row[1]!);
  }
  return letters;
}

test('frame types and the hello text follow PROTOCOL.md', () => {
  const spec = readFileSync(new URL('../initramfs/hyperstart/PROTOCOL.md', import.meta.url), 'utf8');
  assert.equal([...GUEST_FRAME_TYPES].sort(), documentedFrames(spec, 'guest').sort());
  assert.equal([...HOST_FRAME_TYPES].sort(), documentedFrames(spec, 'host').sort());
  assert.ok(GUEST_FRAME_TYPES.length >= 4 && HOST_FRAME_TYPES.length >= 6);
  assert.is(HELLO_PAYLOAD, `hyperstart ${HYPERSTART_VERSION}`);
  assert.is(HYPERSTART_VERSION, /^# HyperStart protocol \(version (\d+)\)/.exec(spec)?.[1], 'PROTOCOL.md names the version protocol.ts speaks');
});

test.run();
