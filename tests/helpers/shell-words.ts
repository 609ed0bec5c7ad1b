/**
 * Which programs a shell script or a Makefile runs, read statically: the
 * words in command position (after `|`, `&&`, `;`, `then`, `$(`…), the
 * targets of `command -v`/`exec`/`xargs`, and the same inside `$(…)`,
 * backticks and Make's `$(shell …)`. Builtins, keywords, functions the script
 * defines and assignments are left out; a command that is only known at run
 * time (`"$here/check.sh"`, a Make variable) is returned as `dynamic` so the
 * caller can account for it. Used by tests/deps-packages.test.ts.
 */

/** Stands for a part of a word whose value is unknown here (a variable, a substitution). */
export const UNKNOWN = '\u0000';

export interface ShellScan {
  /** Program names or paths, in order of appearance (duplicates kept). */
  commands: string[];
  /** Command-position words with a run-time part, as written. */
  dynamic: string[];
}

/** Shell builtins and keywords: never a program to install. */
const BUILTINS = new Set([
  '.', ':', '[', '[[', ']]', 'alias', 'command', 'exec', 'bg', 'break', 'builtin', 'case', 'cd', 'continue', 'declare', 'do', 'done', 'echo', 'elif', 'else',
  'esac', 'eval', 'exit', 'export', 'false', 'fg', 'fi', 'for', 'function', 'getopts', 'hash', 'if', 'in', 'jobs', 'kill', 'let', 'local',
  'printf', 'pwd', 'read', 'readonly', 'return', 'select', 'set', 'shift', 'source', 'test', 'then', 'time', 'times', 'trap', 'true', 'type',
  'typeset', 'ulimit', 'umask', 'unalias', 'unset', 'until', 'wait', 'while', '{', '}', '!',
]);
/** After these, the next word is again in command position. */
const PREFIXES = new Set(['exec', 'command', 'builtin', 'time', 'nice', 'nohup', 'xargs', 'env', 'sudo', 'then', 'do', 'else', 'elif', 'if', 'while', 'until', '!', '{']);
const SEPARATORS = new Set([';', '|', '||', '&&', '&', '(', ')', '\n', ';;', '}']);
const REDIRECT = /^\d*(<<<|<<-?|>>|>&|<&|&>|>\||<>|<|>)$/;

interface Token {
  text: string;
  op: boolean;
}

/** Reads `$(…)` / `` `…` `` / `${…}` / `$((…))` starting at `i` (at the `$` or backtick); returns the inner text and the index after it. */
function readSubstitution(s: string, i: number): { inner: string; end: number; kind: 'command' | 'other' } {
  if (s[i] === '`') {
    const end = s.indexOf('`', i + 1);
    return { inner: s.slice(i + 1, end < 0 ? s.length : end), end: end < 0 ? s.length : end + 1, kind: 'command' };
  }
  const open = s[i + 1];
  const close = open === '(' ? ')' : '}';
  let depth = 0;
  let j = i + 1;
  for (; j < s.length; j++) {
    if (s[j] === '\\') j++;
    else if (s[j] === "'" && open === '(') j = Math.max(j, s.indexOf("'", j + 1));
    else if (s[j] === open) depth++;
    else if (s[j] === close && --depth === 0) break;
  }
  const inner = s.slice(i + 2, j);
  const arithmetic = open === '(' && s[i + 2] === '(';
  return { inner, end: j + 1, kind: open === '(' && !arithmetic ? 'command' : 'other' };
}

/** Splits a script into words and operators; command substitutions are scanned recursively into `nested`. */
function tokenize(s: string, nested: ShellScan): Token[] {
  const tokens: Token[] = [];
  let word = '';
  let inWord = false;
  const flush = () => {
    if (inWord) tokens.push({ text: word, op: false });
    word = '';
    inWord = false;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '\n') { i++; continue; }
    if (c === '\\') { word += s[++i] ?? ''; inWord = true; continue; }
    if (c === '#' && !inWord) { while (i < s.length && s[i] !== '\n') i++; i--; continue; }
    if (c === "'") { const end = s.indexOf("'", i + 1); word += s.slice(i + 1, end < 0 ? s.length : end); inWord = true; i = end < 0 ? s.length : end; continue; }
    if (c === '"') { i = readDoubleQuoted(s, i, nested, (part) => (word += part)); inWord = true; continue; }
    if (c === '`' || (c === '$' && (s[i + 1] === '(' || s[i + 1] === '{'))) {
      const sub = readSubstitution(s, i);
      // `${x:-$(cmd)}` can hold command substitutions too: scan it as an argument.
      mergeScan(nested, scanShell(sub.kind === 'command' ? sub.inner : `: ${JSON.stringify(sub.inner)}`));
      word += UNKNOWN;
      inWord = true;
      i = sub.end - 1;
      continue;
    }
    if (c === '$' && /[\w@*#?$!-]/.test(s[i + 1] ?? '')) { word += UNKNOWN; inWord = true; i += /\w/.test(s[i + 1]) ? (/^\w+/.exec(s.slice(i + 1))![0].length) : 1; continue; }
    if (c === ' ' || c === '\t') { flush(); continue; }
    if (c === '(' && s[i + 1] === '(' && !inWord) {
      // `(( … ))` arithmetic: no command inside.
      i = readSubstitution(s, i - 1).end - 1;
      continue;
    }
    const op = /^(;;|\|\||&&|&>|\d*(>>|>&|<&|<<-?|[<>])|[;|&()\n])/.exec(s.slice(i))?.[0];
    if (op && !(/^\d/.test(op) && inWord)) {
      flush();
      tokens.push({ text: op.replace(/^\d+/, ''), op: true });
      i += op.length - 1;
      continue;
    }
    word += c;
    inWord = true;
  }
  flush();
  return tokens;
}

/** Reads a double-quoted string at `i`; substitutions inside are scanned too. Returns the index of the closing quote. */
function readDoubleQuoted(s: string, i: number, nested: ShellScan, add: (part: string) => void): number {
  let j = i + 1;
  for (; j < s.length && s[j] !== '"'; j++) {
    if (s[j] === '\\') { add(s[++j] ?? ''); continue; }
    if (s[j] === '`' || (s[j] === '$' && (s[j + 1] === '(' || s[j + 1] === '{'))) {
      const sub = readSubstitution(s, j);
      if (sub.kind === 'command') mergeScan(nested, scanShell(sub.inner));
      add(UNKNOWN);
      j = sub.end - 1;
      continue;
    }
    if (s[j] === '$' && /[\w@*#?$!-]/.test(s[j + 1] ?? '')) { add(UNKNOWN); j += /\w/.test(s[j + 1]) ? /^\w+/.exec(s.slice(j + 1))![0].length : 1; continue; }
    add(s[j]);
  }
  return j;
}

function mergeScan(into: ShellScan, from: ShellScan): void {
  into.commands.push(...from.commands);
  into.dynamic.push(...from.dynamic);
}

/** Function names a script defines (`name() {` or `function name`), which are not programs. */
function definedFunctions(tokens: Token[]): Set<string> {
  const names = new Set<string>();
  tokens.forEach((t, i) => {
    if (!t.op && tokens[i + 1]?.text === '(' && tokens[i + 2]?.text === ')') names.add(t.text);
    if (t.text === 'function' && tokens[i + 1] && !tokens[i + 1].op) names.add(tokens[i + 1].text);
  });
  return names;
}

/** The programs a shell script runs (see the header). */
export function scanShell(script: string): ShellScan {
  const out: ShellScan = { commands: [], dynamic: [] };
  const tokens = tokenize(script, out);
  const functions = definedFunctions(tokens);
  let atCommand = true;
  let skipNext = false;
  let lookupNext = false;
  // `case WORD in` … `)`: patterns are not commands; `for x in …`: neither are the words.
  let state: 'normal' | 'case-word' | 'case-pattern' | 'for-list' = 'normal';
  let testDepth = 0;
  for (const [i, t] of tokens.entries()) {
    if (skipNext) { skipNext = false; continue; }
    if (t.op) {
      if (REDIRECT.test(t.text)) { skipNext = true; continue; }
      if (state === 'case-pattern' && t.text === ')') { state = 'normal'; atCommand = true; continue; }
      if (t.text === ';;') { state = 'case-pattern'; continue; }
      if (SEPARATORS.has(t.text) && state !== 'case-pattern') { atCommand = true; if (state === 'for-list' && t.text !== '\n' && t.text !== ';') state = 'normal'; }
      continue;
    }
    const w = t.text;
    if (state === 'case-pattern') { if (w === 'esac') state = 'normal'; continue; }
    if (state === 'case-word') { if (w === 'in') state = 'case-pattern'; continue; }
    if (state === 'for-list') { if (w === 'do') { state = 'normal'; atCommand = true; } continue; }
    if (testDepth > 0) { if (w === ']]' || w === ']') testDepth--; continue; }
    if (lookupNext) { lookupNext = w.startsWith('-'); if (!lookupNext) addCommand(out, w); continue; }
    if (!atCommand) continue;
    if (/^[A-Za-z_]\w*(\[[^\]]*\])?\+?=/.test(w)) continue;
    if (w === 'case') { state = 'case-word'; continue; }
    if (w === 'for' || w === 'select') { state = 'for-list'; continue; }
    if (w === '[[' || w === '[') { testDepth++; atCommand = false; continue; }
    if (w === 'command' && tokens[i + 1]?.text === '-v') { skipNext = true; lookupNext = true; atCommand = false; continue; }
    if (PREFIXES.has(w)) { if (!BUILTINS.has(w)) out.commands.push(w); continue; }
    atCommand = false;
    if (BUILTINS.has(w) || functions.has(w) || w.startsWith('-') || w === '') continue;
    addCommand(out, w);
  }
  return out;
}

function addCommand(out: ShellScan, word: string): void {
  if (word.includes(UNKNOWN)) out.dynamic.push(word.replaceAll(UNKNOWN, '$…'));
  else out.commands.push(word);
}

/** A Makefile's variables (`NAME := value`, `=`, `?=`, `+=`), continuation lines joined. */
export function makeVariables(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.replace(/\\\n\s*/g, ' ').split('\n')) {
    const m = /^([A-Za-z_][\w.-]*)\s*(:?=|\?=|\+=|::=)\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, name, op, value] = m;
    if (op === '?=' && vars.has(name)) continue;
    vars.set(name, op === '+=' && vars.has(name) ? `${vars.get(name)} ${value}` : value.trim());
  }
  return vars;
}

/** Reads `$(…)` at `i` in Make syntax; returns the inner text and the index after it. */
function readMakeReference(s: string, i: number): { inner: string; end: number } {
  const close = s[i + 1] === '(' ? ')' : '}';
  let depth = 0;
  let j = i + 1;
  for (; j < s.length; j++) {
    if (s[j] === s[i + 1]) depth++;
    else if (s[j] === close && --depth === 0) break;
  }
  return { inner: s.slice(i + 2, j), end: j + 1 };
}

/**
 * Expands Make references in `text` for reading as shell: `$$` is `$`;
 * `$(shell X)` is scanned as shell and stands for what its `echo`es print
 * (each alternative, and nothing); known variables expand (recursively);
 * automatic variables and Make functions are unknown. Returns every
 * alternative expansion (bounded).
 */
function expandMake(text: string, vars: Map<string, string>, scan: ShellScan, depth = 0): string[] {
  let results = [''];
  for (let i = 0; i < text.length; i++) {
    let parts: string[];
    if (text[i] === '$' && text[i + 1] === '$') { parts = ['$']; i++; }
    else if (text[i] === '$' && (text[i + 1] === '(' || text[i + 1] === '{')) {
      const ref = readMakeReference(text, i);
      i = ref.end - 1;
      parts = expandReference(ref.inner, vars, scan, depth);
    } else if (text[i] === '$') { parts = [UNKNOWN]; i++; }
    else parts = [text[i]];
    results = results.flatMap((r) => parts.map((p) => r + p)).slice(0, 16);
  }
  return results;
}

function expandReference(inner: string, vars: Map<string, string>, scan: ShellScan, depth: number): string[] {
  if (inner.startsWith('shell ')) {
    const script = expandMake(inner.slice('shell '.length), vars, scan, depth + 1)[0];
    const inside = scanShell(script);
    mergeScan(scan, inside);
    const echoed = [...script.matchAll(/\becho\s+([\w.+-]+)/g)].map((m) => m[1]);
    return [...echoed, ''];
  }
  if (vars.has(inner) && depth < 8) return expandMake(vars.get(inner)!, vars, scan, depth + 1);
  return [UNKNOWN];
}

/** The programs a Makefile runs: its recipe lines and `$(shell …)` calls, read as shell. */
export function scanMakefile(text: string, vars: Map<string, string> = makeVariables(text)): ShellScan {
  const out: ShellScan = { commands: [], dynamic: [] };
  const joined = text.replace(/\\\n/g, ' ');
  for (const line of joined.split('\n')) {
    if (line.startsWith('\t')) {
      for (const alt of expandMake(line.slice(1).replace(/^[@+-]+/, ''), vars, out)) mergeScan(out, scanShell(alt));
    } else if (/\$\(shell /.test(line) && !line.startsWith('#')) {
      expandMake(line, vars, out);
    }
  }
  return out;
}
