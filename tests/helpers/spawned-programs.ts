/**
 * Which programs the TypeScript sources start, found with the TypeScript
 * checker rather than a hand list: every call of node:child_process's
 * spawn/spawnSync/execFile/execFileSync (the program) and exec/execSync
 * (a shell line), with the program argument evaluated back through
 * constants, conditionals, arrays, `command:` fields of the object types it is
 * read from, function parameters (through every call site) and return
 * values. The argv is evaluated too: `sh -c SCRIPT` is read as shell
 * (shell-words.ts), `fakeroot -- PROGRAM …` as the program it wraps. What cannot be evaluated is returned as `unresolved`, with
 * its place, for the caller to account for. Used by tests/deps-packages.test.ts.
 */
import ts from 'typescript';
import { relative } from 'node:path';
import { scanShell, UNKNOWN } from './shell-words.ts';

export interface Found {
  /** A program name or path, as the code names it. */
  program: string;
  /** `file:line` of the spawn (or shell script) it was found from. */
  where: string;
}

export interface Unresolved {
  /** The expression (or shell word) that names a program only at run time. */
  expression: string;
  where: string;
}

/** One evaluated value: a string (UNKNOWN marks parts not known here), an array, an object, or nothing known. */
type Value = { kind: 'string'; text: string } | { kind: 'array'; items: Value[][] } | { kind: 'object'; props: Map<string, Value[]> } | { kind: 'unknown'; node: ts.Node };

const PROGRAM_CALLS = new Set(['spawn', 'spawnSync', 'execFile', 'execFileSync']);
const SHELL_CALLS = new Set(['exec', 'execSync']);
const SHELLS = new Set(['sh', 'bash', '/bin/sh', '/bin/bash', '/usr/bin/bash']);
const MAX_DEPTH = 10;

class Evaluator {
  private readonly callers = new Map<ts.Symbol, ts.CallExpression[]>();
  private readonly literalsByType = new Map<ts.Symbol, ts.ObjectLiteralExpression[]>();
  private readonly active = new Set<ts.Node>();

  constructor(
    private readonly checker: ts.TypeChecker,
    files: readonly ts.SourceFile[],
  ) {
    for (const file of files) this.index(file);
  }

  /** Call sites of every function, and object literals by the type they are written as. */
  private index(node: ts.Node): void {
    if (ts.isCallExpression(node)) {
      const sym = this.symbolOf(node.expression);
      if (sym) this.callers.set(sym, [...(this.callers.get(sym) ?? []), node]);
    }
    if (ts.isObjectLiteralExpression(node)) {
      const type = this.checker.getContextualType(node);
      for (const t of type?.isUnion() ? type.types : type ? [type] : []) {
        const sym = t.aliasSymbol ?? t.getSymbol();
        if (sym) this.literalsByType.set(sym, [...(this.literalsByType.get(sym) ?? []), node]);
      }
    }
    ts.forEachChild(node, (c) => this.index(c));
  }

  symbolOf(node: ts.Node): ts.Symbol | undefined {
    const sym = this.checker.getSymbolAtLocation(node);
    return sym && sym.flags & ts.SymbolFlags.Alias ? this.checker.getAliasedSymbol(sym) : sym;
  }

  evaluate(node: ts.Expression, depth = 0): Value[] {
    if (depth > MAX_DEPTH || this.active.has(node)) return [{ kind: 'unknown', node }];
    this.active.add(node);
    try {
      return this.evaluateNode(node, depth + 1);
    } finally {
      this.active.delete(node);
    }
  }

  private evaluateNode(node: ts.Expression, depth: number): Value[] {
    if (ts.isStringLiteralLike(node)) return [{ kind: 'string', text: node.text }];
    if (ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isNonNullExpression(node) || ts.isSatisfiesExpression(node)) return this.evaluate(node.expression, depth);
    if (ts.isTemplateExpression(node)) return this.template(node, depth);
    if (ts.isConditionalExpression(node)) return [...this.evaluate(node.whenTrue, depth), ...this.evaluate(node.whenFalse, depth)];
    if (ts.isBinaryExpression(node) && [ts.SyntaxKind.BarBarToken, ts.SyntaxKind.QuestionQuestionToken].includes(node.operatorToken.kind)) {
      // `env.X || DEFAULT`: an override from the environment is the user's program, the default is ours.
      const left = /(^|\.)env\.\w+$/.test(node.left.getText()) ? [] : this.evaluate(node.left, depth);
      return [...left, ...this.evaluate(node.right, depth)];
    }
    if (ts.isArrayLiteralExpression(node)) return [{ kind: 'array', items: node.elements.flatMap((e) => this.arrayElement(e, depth)) }];
    if (ts.isObjectLiteralExpression(node)) return [{ kind: 'object', props: this.objectProps(node, depth) }];
    if (ts.isIdentifier(node)) return this.identifier(node, depth);
    if (ts.isPropertyAccessExpression(node)) return this.property(node, depth);
    if (ts.isElementAccessExpression(node)) return this.element(node, depth);
    if (ts.isCallExpression(node)) return this.call(node, depth);
    return [{ kind: 'unknown', node }];
  }

  /** One element of an array literal; `...xs` splices in xs's elements when xs is one known array. */
  private arrayElement(e: ts.Expression, depth: number): Value[][] {
    if (!ts.isSpreadElement(e)) return [this.evaluate(e, depth)];
    const spread = this.evaluate(e.expression, depth);
    return spread.length === 1 && spread[0].kind === 'array' ? spread[0].items : [[{ kind: 'unknown', node: e }]];
  }

  private template(node: ts.TemplateExpression, depth: number): Value[] {
    let texts = [node.head.text];
    for (const span of node.templateSpans) {
      const parts = this.evaluate(span.expression, depth).map((v) => (v.kind === 'string' ? v.text : UNKNOWN));
      texts = texts.flatMap((t) => [...new Set(parts)].map((p) => t + p + span.literal.text)).slice(0, 32);
    }
    return texts.map((text) => ({ kind: 'string', text }));
  }

  private objectProps(node: ts.ObjectLiteralExpression, depth: number): Map<string, Value[]> {
    const props = new Map<string, Value[]>();
    for (const p of node.properties) {
      if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name))) props.set(p.name.text, this.evaluate(p.initializer, depth));
      else if (ts.isShorthandPropertyAssignment(p)) props.set(p.name.text, this.evaluate(p.name, depth));
    }
    return props;
  }

  private identifier(node: ts.Identifier, depth: number): Value[] {
    const decl = this.symbolOf(node)?.declarations?.[0];
    if (!decl) return [{ kind: 'unknown', node }];
    if (ts.isVariableDeclaration(decl)) {
      if (decl.initializer) return this.evaluate(decl.initializer, depth);
      // `for (const p of LIST)`: p is each element of LIST.
      const loop = decl.parent?.parent;
      if (loop && ts.isForOfStatement(loop)) return this.evaluate(loop.expression, depth).flatMap((v) => (v.kind === 'array' ? v.items.flat() : [v]));
    }
    if (ts.isParameter(decl)) return this.parameter(decl, node, depth);
    if (ts.isBindingElement(decl)) return this.bindingElement(decl, node, depth);
    return [{ kind: 'unknown', node }];
  }

  /** `const [program, ...argv] = f()` and `for (const [a, b] of LIST)`: the element at that position. */
  private bindingElement(decl: ts.BindingElement, node: ts.Node, depth: number): Value[] {
    const pattern = decl.parent;
    const variable = pattern.parent;
    if (!ts.isArrayBindingPattern(pattern) || decl.dotDotDotToken || !ts.isVariableDeclaration(variable)) return [{ kind: 'unknown', node }];
    const index = pattern.elements.indexOf(decl);
    const loop = variable.parent?.parent;
    let sources: Value[] = [];
    if (variable.initializer) sources = this.evaluate(variable.initializer, depth);
    else if (loop && ts.isForOfStatement(loop)) sources = this.evaluate(loop.expression, depth).flatMap((v) => (v.kind === 'array' ? v.items.flat() : []));
    const values = sources.flatMap((v) => (v.kind === 'array' ? (v.items[index] ?? []) : []));
    return values.length ? values : [{ kind: 'unknown', node }];
  }

  /**
   * When a spawn's program and argv are both parameters of one function
   * (`run(command, args)`), the pairs its call sites pass, so one caller's
   * program is not read with another caller's arguments.
   */
  pairedArguments(program: ts.Expression, argv: ts.Expression): [ts.Expression, ts.Expression][] | undefined {
    const decls = [program, argv].map((e) => (ts.isIdentifier(e) ? this.symbolOf(e)?.declarations?.[0] : undefined));
    if (!decls.every((d): d is ts.ParameterDeclaration => !!d && ts.isParameter(d)) || decls[0].parent !== decls[1].parent) return undefined;
    const fn = decls[0].parent;
    const name = ts.isFunctionDeclaration(fn) ? fn.name : ts.isVariableDeclaration(fn.parent) ? fn.parent.name : undefined;
    const sym = name && this.symbolOf(name);
    const [i, j] = decls.map((d) => fn.parameters.indexOf(d));
    const calls = (sym && this.callers.get(sym)) ?? [];
    return calls.filter((c) => c.arguments[i] && c.arguments[j]).map((c) => [c.arguments[i], c.arguments[j]]);
  }

  /** A parameter is whatever its function's callers pass (and its default). */
  private parameter(decl: ts.ParameterDeclaration, node: ts.Node, depth: number): Value[] {
    const fn = decl.parent;
    const index = fn.parameters.indexOf(decl);
    const name = ts.isFunctionDeclaration(fn) || ts.isMethodDeclaration(fn) ? fn.name : ts.isVariableDeclaration(fn.parent) ? fn.parent.name : undefined;
    const sym = name && this.symbolOf(name);
    const calls = (sym && this.callers.get(sym)) ?? [];
    const values = calls.flatMap((c) => (c.arguments[index] ? this.evaluate(c.arguments[index], depth) : []));
    if (decl.initializer) values.push(...this.evaluate(decl.initializer, depth));
    return values.length ? values : [{ kind: 'unknown', node }];
  }

  private property(node: ts.PropertyAccessExpression, depth: number): Value[] {
    if (node.getText() === 'process.execPath') return [{ kind: 'string', text: 'node' }];
    const name = node.name.text;
    const type = this.checker.getTypeAtLocation(node.expression);
    const sym = type.aliasSymbol ?? type.getSymbol();
    const literals = (sym && this.literalsByType.get(sym)) ?? [];
    // `cmd.command` where cmd is a HostCommand: every `command:` written as a HostCommand.
    if (literals.length) return literals.flatMap((o) => this.objectProps(o, depth).get(name) ?? []);
    const values = this.evaluate(node.expression, depth).flatMap((v) => (v.kind === 'object' ? (v.props.get(name) ?? []) : []));
    return values.length ? values : [{ kind: 'unknown', node }];
  }

  private element(node: ts.ElementAccessExpression, depth: number): Value[] {
    const index = ts.isNumericLiteral(node.argumentExpression) ? Number(node.argumentExpression.text) : undefined;
    const values = this.evaluate(node.expression, depth).flatMap((v): Value[] => {
      if (v.kind === 'array') return index === undefined ? v.items.flat() : (v.items[index] ?? []);
      if (v.kind === 'object') return [...v.props.values()].flat();
      return [];
    });
    return values.length ? values : [{ kind: 'unknown', node }];
  }

  /** A call of one of our functions is what it returns. */
  private call(node: ts.CallExpression, depth: number): Value[] {
    const method = ts.isPropertyAccessExpression(node.expression) ? node.expression.name.text : '';
    if (method === 'slice' || method === 'join') {
      const arrays = this.evaluate((node.expression as ts.PropertyAccessExpression).expression, depth).filter((v) => v.kind === 'array');
      const arg = node.arguments[0];
      if (method === 'slice' && arg && ts.isNumericLiteral(arg)) return arrays.map((a) => ({ kind: 'array', items: a.items.slice(Number(arg.text)) }));
      const sep = arg && ts.isStringLiteralLike(arg) ? arg.text : ',';
      // join: the first value of each element (the scripts joined here are lists of literal lines).
      if (method === 'join') return arrays.map((a) => ({ kind: 'string', text: a.items.map((i) => (i[0]?.kind === 'string' ? i[0].text : UNKNOWN)).join(sep) }));
    }
    const decl = this.symbolOf(node.expression)?.declarations?.[0];
    const fn = decl && ts.isVariableDeclaration(decl) ? decl.initializer : decl;
    if (!fn || !(ts.isFunctionDeclaration(fn) || ts.isArrowFunction(fn) || ts.isFunctionExpression(fn)) || !fn.body || fn.getSourceFile().isDeclarationFile) return [{ kind: 'unknown', node }];
    if (!ts.isBlock(fn.body)) return this.evaluate(fn.body, depth);
    const returns: ts.Expression[] = [];
    const visit = (n: ts.Node): void => {
      if (ts.isReturnStatement(n) && n.expression) returns.push(n.expression);
      else if (!ts.isFunctionLike(n)) ts.forEachChild(n, visit);
    };
    ts.forEachChild(fn.body, visit);
    const values = returns.flatMap((r) => this.evaluate(r, depth));
    return values.length ? values : [{ kind: 'unknown', node }];
  }
}

/** Where a node is, as `path:line` relative to root. */
function place(node: ts.Node, root: string): string {
  const file = node.getSourceFile();
  return `${relative(root, file.fileName)}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
}

interface Collector {
  found: Found[];
  unresolved: Unresolved[];
}

function addShell(values: Value[], where: string, out: Collector): void {
  for (const v of values) {
    if (v.kind !== 'string') {
      out.unresolved.push({ expression: v.kind === 'unknown' ? v.node.getText() : `(${v.kind})`, where });
      continue;
    }
    const scan = scanShell(v.text);
    out.found.push(...scan.commands.map((program) => ({ program, where })));
    out.unresolved.push(...scan.dynamic.map((expression) => ({ expression, where })));
  }
}

function addPrograms(values: Value[], where: string, out: Collector): void {
  for (const v of values) {
    if (v.kind === 'string' && !v.text.includes(UNKNOWN)) out.found.push({ program: v.text, where });
    else out.unresolved.push({ expression: v.kind === 'unknown' ? v.node.getText() : v.kind === 'string' ? v.text.replaceAll(UNKNOWN, '${…}') : `(${v.kind})`, where });
  }
}

/** Programs that run the argv they are given (`fakeroot -- sh -c …`). */
const WRAPPERS = new Set(['fakeroot', 'env', 'nice', 'nohup', 'sudo', 'time', '/usr/bin/time', 'xargs']);

function firstString(values: Value[] | undefined): string | undefined {
  const v = values?.find((x) => x.kind === 'string');
  return v?.kind === 'string' ? v.text : undefined;
}

/** A program and its possible argv arrays: shells read their `-c` script, wrappers the argv after `--`. */
function addArgv(programs: Value[], argvs: Value[], where: string, ev: Evaluator, root: string, out: Collector, depth = 0): void {
  addPrograms(programs, where, out);
  const arrays = argvs.filter((a): a is Extract<Value, { kind: 'array' }> => a.kind === 'array');
  for (const p of programs) {
    if (p.kind !== 'string') continue;
    for (const a of arrays) {
      if (SHELLS.has(p.text) && firstString(a.items[0]) === '-c' && a.items[1]) addShell(a.items[1], where, out);
      if (!WRAPPERS.has(p.text) || depth > 3) continue;
      const inner = firstString(a.items[0]) === '--' ? a.items.slice(1) : a.items;
      const head = firstString(inner[0]);
      if (head && !head.startsWith('-')) addArgv(inner[0], [{ kind: 'array', items: inner.slice(1) }], where, ev, root, out, depth + 1);
    }
  }
}

function spawnCall(node: ts.CallExpression, name: string, ev: Evaluator, root: string, out: Collector): void {
  const [first, second] = node.arguments;
  if (!first) return;
  const where = place(node, root);
  if (SHELL_CALLS.has(name)) return addShell(ev.evaluate(first), where, out);
  const pairs = second && ev.pairedArguments(first, second);
  if (pairs?.length) for (const [p, a] of pairs) addArgv(ev.evaluate(p), ev.evaluate(a), where, ev, root, out);
  else addArgv(ev.evaluate(first), second ? ev.evaluate(second) : [], where, ev, root, out);
}

/** Scans `files` (absolute .ts paths) under `root`; see the header. */
export function scanTypeScript(files: string[], root: string, options: ts.CompilerOptions): Collector {
  const program = ts.createProgram(files, { ...options, noEmit: true });
  const checker = program.getTypeChecker();
  const sources = program.getSourceFiles().filter((f) => files.includes(f.fileName));
  const ev = new Evaluator(checker, sources);
  const out: Collector = { found: [], unresolved: [] };
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const decl = ev.symbolOf(node.expression)?.declarations?.[0];
      const name = ts.isIdentifier(node.expression) ? node.expression.text : ts.isPropertyAccessExpression(node.expression) ? node.expression.name.text : '';
      if (decl && /[\\/]child_process\.d\.ts$/.test(decl.getSourceFile().fileName) && (PROGRAM_CALLS.has(name) || SHELL_CALLS.has(name))) spawnCall(node, name, ev, root, out);
    }
    ts.forEachChild(node, visit);
  };
  for (const f of sources) visit(f);
  return out;
}
