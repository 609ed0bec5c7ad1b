/**
 * Where a build's main-thread time goes, from a V8 .cpuprofile (`node
 * --cpu-prof`): self time of every sample, grouped by stage. A sample's stage
 * comes from its own frame when that is V8's or a Node subsystem (GC, idle,
 * sha256, zlib, child processes, module loading), else from the nearest
 * frame of our own code, mapped through the bundle's source map to its
 * toolchain/ file. Work on libuv's thread pool (inflate, deflate) and in child
 * processes (lz4, zstd) is not in a main-thread profile: the main thread is
 * `(idle)` while it waits for them.
 *
 *   node --import tsx bench/profile-summary.ts FILE.cpuprofile
 */
import { readFileSync, existsSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface Frame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: Frame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** Stages named by the sample's own frame (function name or URL), checked first, in order. */
const BY_FRAME: [RegExp, string][] = [
  [/^\(idle\)/, 'idle: waiting for the thread pool, children, I/O'],
  [/^\(garbage collector\)/, 'GC'],
  [/^\(program\)/, 'V8 itself (compile, IC, unattributed)'],
  [/crypto\/hash/, 'sha256 (blob, diff_id, pieces, bundle)'],
  [/node:zlib/, 'zlib glue on the main thread (inflate/deflate run on the pool)'],
  [/child_process|ChildProcess/, 'spawning compressors (lz4/zstd) and their pipes'],
  [/node:internal\/modules|cjs-module-lexer|compileForInternalLoader|internal\/bootstrap/, 'start-up: loading code'],
];
/** Stages named by the nearest toolchain/ source file among the sample's callers. */
const BY_SOURCE: [RegExp, string][] = [
  [/toolchain\/tar\//, 'tar parse'],
  [/toolchain\/layers\//, 'decoded layers: spill writes, index'],
  [/toolchain\/tree\/content/, 'pread: contents read back for the archive'],
  [/toolchain\/tree\//, 'merge: the tree'],
  [/toolchain\/(cpio|initramfs)\//, 'cpio headers, cutting pieces'],
  [/toolchain\/(cache\/piece|pipeline\/write-initramfs)/, 'pieces: store, copy into the initramfs'],
  [/toolchain\/compress\//, 'spawning compressors (lz4/zstd) and their pipes'],
  [/toolchain\/(source|image|registry)\//, 'image: resolve, blob reads'],
  [/toolchain\//, 'other toolchain'],
]

const sourceMaps = new Map<string, SourceMap | undefined>();
/** The original source file of a bundled frame (its URL when there is no map). */
function sourceOf(frame: Frame): string {
  if (!frame.url.startsWith('file://')) return frame.url;
  const file = fileURLToPath(frame.url);
  if (!sourceMaps.has(file)) sourceMaps.set(file, existsSync(`${file}.map`) ? new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8'))) : undefined);
  const entry = sourceMaps.get(file)?.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string } | undefined;
  return entry?.originalSource ?? file;
}

function stageOf(chain: Frame[]): string {
  const own = `${chain[0].functionName} ${chain[0].url}`;
  for (const [re, stage] of BY_FRAME) if (re.test(own)) return stage;
  for (const frame of chain) {
    const source = sourceOf(frame);
    for (const [re, stage] of BY_SOURCE) if (re.test(source)) return stage;
  }
  return 'Node internals outside our stack (async fs callbacks, streams)';
}

export function summarise(profile: Profile): string[] {
  const parent = new Map<number, ProfileNode>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const chainOf = (id: number) => {
    const chain: Frame[] = [];
    for (let n = byId.get(id); n; n = parent.get(n.id)) chain.push(n.callFrame);
    return chain;
  };
  const stages = new Map<string, { ms: number; leaves: Map<string, number> }>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    const chain = chainOf(id);
    const s = stages.get(stageOf(chain)) ?? { ms: 0, leaves: new Map() };
    stages.set(stageOf(chain), s);
    s.ms += ms;
    s.leaves.set(chain[0].functionName || '(anonymous)', (s.leaves.get(chain[0].functionName || '(anonymous)') ?? 0) + ms);
    total += ms;
  });
  const lines = [`main thread: ${(total / 1000).toFixed(2)} s sampled`, '| stage | ms | % | top functions (self ms) |', '| --- | --- | --- | --- |'];
  for (const [stage, s] of [...stages].sort((a, b) => b[1].ms - a[1].ms)) {
    const top = [...s.leaves].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([f, ms]) => `${f} ${ms.toFixed(0)}`).join(', ');
    lines.push(`| ${stage} | ${s.ms.toFixed(0)} | ${((100 * s.ms) / total).toFixed(1)} | ${top} |`);
  }
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (!process.argv[2]) throw new Error('usage: profile-summary.ts FILE.cpuprofile');
  process.stdout.write(`${summarise(JSON.parse(readFileSync(process.argv[2], 'utf8'))).join('\n')}\n`);
}
