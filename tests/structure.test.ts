/**
 * The project's structure rules, checked on the sources (no build needed):
 * no import cycle in toolchain/, no TypeScript function over 80 lines in
 * toolchain/, no C function over 80 lines in HyperStart, every toolchain file
 * opens with a comment saying what it owns, and package.json `files` names
 * only folders that exist. Each failure lists every offender.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { cFunctions } from './helpers/c-functions.ts';

const ROOT = resolve(import.meta.dirname, '..');
const TOOLCHAIN = join(ROOT, 'toolchain');
const MAX_LINES = 80;

function listFiles(dir: string, ext: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

const tsFiles = listFiles(TOOLCHAIN, '.ts');
const rel = (file: string) => relative(ROOT, file);
const parsed = new Map(tsFiles.map((f) => [f, ts.createSourceFile(f, readFileSync(f, 'utf8'), ts.ScriptTarget.ES2022, true)]));

/** The .ts files a module imports or re-exports by relative path (type-only imports count: they still couple). */
function relativeImports(file: string): string[] {
  const out: string[] = [];
  for (const stmt of parsed.get(file)!.statements) {
    const spec = (ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) ? stmt.moduleSpecifier : undefined;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) continue;
    const target = resolve(dirname(file), spec.text);
    if (target.endsWith('.ts')) out.push(target);
  }
  return out;
}

/** Every strongly connected group of more than one module (or a module importing itself), as one cycle path each. */
function importCycles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const groups: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const group: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      group.push(w);
    } while (w !== v);
    if (group.length > 1 || (graph.get(v) ?? []).includes(v)) groups.push(group);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return groups.map((group) => cyclePath(graph, group));
}

/** One concrete cycle through a strongly connected group, for the message: a → b → … → a. */
function cyclePath(graph: Map<string, string[]>, group: string[]): string[] {
  const members = new Set(group);
  const start = [...group].sort()[0];
  const seen = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = seen.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!seen.has(w)) {
        seen.set(w, v);
        queue.push(w);
      }
    }
  }
  return group;
}

type FunctionLike = ts.FunctionDeclaration | ts.MethodDeclaration | ts.FunctionExpression | ts.ArrowFunction
  | ts.ConstructorDeclaration | ts.GetAccessorDeclaration | ts.SetAccessorDeclaration;

function isFunctionLike(node: ts.Node): node is FunctionLike {
  return ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isFunctionExpression(node)
    || ts.isArrowFunction(node) || ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node)
    || ts.isSetAccessorDeclaration(node);
}

/** A readable name: the declared one, else the variable, property or call it is bound to. */
function functionName(node: FunctionLike): string {
  if (node.name && !ts.isComputedPropertyName(node.name)) return node.name.getText();
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText();
  if (ts.isCallExpression(parent) || ts.isNewExpression(parent)) return `(callback of ${parent.expression.getText().slice(0, 40)})`;
  return '(anonymous)';
}

/** Every function, method and arrow whose body spans more than MAX_LINES lines (nested ones are measured on their own too). */
function longFunctions(source: ts.SourceFile): string[] {
  const found: string[] = [];
  const lineOf = (pos: number) => source.getLineAndCharacterOfPosition(pos).line;
  const walk = (node: ts.Node): void => {
    if (isFunctionLike(node) && node.body) {
      const lines = lineOf(node.body.getEnd()) - lineOf(node.body.getStart(source)) + 1;
      if (lines > MAX_LINES) found.push(`${rel(source.fileName)}:${lineOf(node.getStart(source)) + 1} ${functionName(node)} (${lines} lines)`);
    }
    ts.forEachChild(node, walk);
  };
  walk(source);
  return found;
}

test('toolchain/ has no import cycle', () => {
  const graph = new Map(tsFiles.map((f) => [f, relativeImports(f).filter((t) => parsed.has(t))]));
  const cycles = importCycles(graph).map((c) => c.map(rel).join(' → '));
  assert.equal(cycles, [], `import cycles:\n  ${cycles.join('\n  ')}`);
});

test('the cycle finder finds a cycle (the check can fail)', () => {
  const graph = new Map([['a', ['b']], ['b', ['c']], ['c', ['a', 'd']], ['d', []], ['e', ['e']]]);
  assert.equal(importCycles(graph), [['a', 'b', 'c', 'a'], ['e', 'e']]);
});

test(`no TypeScript function in toolchain/ is over ${MAX_LINES} lines`, () => {
  const long = tsFiles.flatMap((f) => longFunctions(parsed.get(f)!));
  assert.equal(long, [], `functions over ${MAX_LINES} lines:\n  ${long.join('\n  ')}`);
});

test('the TypeScript measure counts body lines', () => {
  const body = Array.from({ length: MAX_LINES - 2 }, (_, i) => `  const v${i} = ${i};`).join('\n');
  const make = (extra: string) => ts.createSourceFile('toolchain/x.ts', `function f() {\n${body}\n${extra}}\n`, ts.ScriptTarget.ES2022, true);
  assert.equal(longFunctions(make('')), [], `a body of ${MAX_LINES} lines (braces included) is allowed`);
  assert.equal(longFunctions(make('  const last = 0;\n')), [`toolchain/x.ts:1 f (${MAX_LINES + 1} lines)`]);
});

test(`no C function in initramfs/hyperstart/ is over ${MAX_LINES} lines`, () => {
  const sources = listFiles(join(ROOT, 'initramfs', 'hyperstart'), '.c').filter((f) => !f.includes('/out/'));
  const all = sources.flatMap((f) => cFunctions(f).map((fn) => ({ ...fn, file: rel(f) })));
  assert.ok(all.length > 10, 'the C function lister found the functions');
  const long = all.filter((fn) => fn.lines > MAX_LINES).map((fn) => `${fn.file}:${fn.line} ${fn.name} (${fn.lines} lines)`);
  assert.equal(long, [], `C functions over ${MAX_LINES} lines:\n  ${long.join('\n  ')}`);
});

test('every toolchain/ source file opens with a comment saying what it owns', () => {
  const files = [...tsFiles, ...listFiles(TOOLCHAIN, '.mjs')];
  const bare = files.filter((f) => !/^\s*(\/\*\*?[\s\S]*?\S[\s\S]*?\*\/|\/\/\s*\S)/.test(readFileSync(f, 'utf8'))).map(rel);
  assert.equal(bare, [], `files without an opening comment:\n  ${bare.join('\n  ')}`);
});

test('package.json `files` lists only folders that exist', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').map((p) => p.split('/')[0]));
  // Folders made by `npm run build` rather than kept in git: where esbuild writes (outfile/outdir).
  const esbuild = readFileSync(join(TOOLCHAIN, 'esbuild.mjs'), 'utf8');
  const built = new Set([...esbuild.matchAll(/out(?:file|dir):\s*'([^/']+)/g)].map((m) => m[1]));
  assert.ok(built.size > 0, 'found where the build writes');
  const missing = pkg.files.filter((entry) => {
    const top = entry.replace(/\/+$/, '');
    return !(tracked.has(top) && existsSync(join(ROOT, top))) && !built.has(top);
  });
  assert.equal(missing, [], `package.json files names what does not exist: ${missing.join(', ')}`);
});

test.run();
