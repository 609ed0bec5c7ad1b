/**
 * The link-level call graph of a set of C files: each file is compiled alone
 * with the host compiler and `nm` says which global symbols (functions and
 * variables) it defines and which it uses; file A depends on file B when A
 * uses a symbol B defines. What is reached only through a function pointer
 * (a registered hook) is, by design, not an edge. For HyperStart's layering
 * check (tests/hyperstart-spec-c.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

interface Symbols {
  defined: Set<string>;
  used: Set<string>;
}

function objectSymbols(cc: string, flags: string[], file: string, dir: string): Symbols {
  const obj = join(dir, `${basename(file)}.o`);
  execFileSync(cc, [...flags, '-c', '-o', obj, file], { stdio: ['ignore', 'ignore', 'pipe'] });
  const out = execFileSync('nm', ['-P', obj], { encoding: 'utf8' });
  const defined = new Set<string>();
  const used = new Set<string>();
  for (const line of out.split('\n')) {
    const [name, type] = line.trim().split(/\s+/);
    if (!name || !type) continue;
    if (type === 'U') used.add(name);
    else if (/^[A-Z]$/.test(type)) defined.add(name); // upper case: global
  }
  return { defined, used };
}

/** file → the files whose symbols it uses (sorted, no self edges), keyed by base name. */
export function cCallGraph(files: string[], cc = 'gcc', flags: string[] = ['-std=gnu11', '-D_GNU_SOURCE', '-O0']): Map<string, string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'c-calls-'));
  try {
    const syms = new Map(files.map((f) => [basename(f), objectSymbols(cc, flags, f, dir)]));
    const graph = new Map<string, string[]>();
    for (const [name, s] of syms) {
      const deps = [...syms].filter(([other, o]) => other !== name && [...s.used].some((u) => o.defined.has(u))).map(([other]) => other);
      graph.set(name, deps.sort());
    }
    return graph;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every cycle's members found by depth-first search, one path per back edge (a → … → a). */
export function graphCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (v: string): void => {
    state.set(v, 'open');
    path.push(v);
    for (const w of graph.get(v) ?? []) {
      if (state.get(w) === 'open') cycles.push([...path.slice(path.indexOf(w)), w]);
      else if (!state.has(w)) visit(w);
    }
    path.pop();
    state.set(v, 'done');
  };
  for (const v of [...graph.keys()].sort()) if (!state.has(v)) visit(v);
  return cycles;
}

/** Everything v reaches, v excluded. */
export function reachable(graph: Map<string, string[]>, v: string): string[] {
  const seen = new Set<string>();
  const stack = [...(graph.get(v) ?? [])];
  while (stack.length) {
    const w = stack.pop()!;
    if (w === v || seen.has(w)) continue;
    seen.add(w);
    stack.push(...(graph.get(w) ?? []));
  }
  return [...seen].sort();
}
