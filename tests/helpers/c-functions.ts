/**
 * Lists the function definitions of a C source file with their body lengths,
 * for the structure checks: comments, strings and character literals are
 * blanked first, then every top-level `{` that follows a parameter list opens
 * a function whose body runs to the matching `}`. Enough for HyperStart's
 * plain C (no K&R definitions, no braces hidden in macros).
 */
import { readFileSync } from 'node:fs';

export interface CFunction {
  name: string;
  /** 1-based line of the function's name. */
  line: number;
  /** Lines from the opening brace to the closing one, both included. */
  lines: number;
}

/** `text` with comments, string and char literals replaced by spaces (newlines kept, so positions stay). */
function blankNonCode(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:\\[\s\S]|[^"\\\n])*"|'(?:\\[\s\S]|[^'\\\n])*'/g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/^[ \t]*#(?:[^\n]*\\\n)*[^\n]*/gm, (m) => m.replace(/[^\n]/g, ' '));
}

const lineAt = (text: string, pos: number) => text.slice(0, pos).split('\n').length;

/** The function defined by the top-level `{` at `brace`, if the code before it ends in `name(...)`. */
function definitionBefore(code: string, brace: number): { name: string; at: number } | undefined {
  const head = code.slice(0, brace).trimEnd();
  if (!head.endsWith(')')) return undefined;
  let depth = 0;
  let i = head.length - 1;
  for (; i >= 0; i--) {
    if (head[i] === ')') depth++;
    else if (head[i] === '(' && --depth === 0) break;
  }
  const name = /([A-Za-z_]\w*)\s*$/.exec(head.slice(0, i));
  if (!name || ['if', 'while', 'for', 'switch', 'return', 'sizeof'].includes(name[1])) return undefined;
  return { name: name[1], at: i - name[0].length + (name[0].length - name[0].trimStart().length) };
}

/** Every function defined in the C file at `path`, in source order. */
export function cFunctions(path: string): CFunction[] {
  const code = blankNonCode(readFileSync(path, 'utf8'));
  const found: CFunction[] = [];
  let depth = 0;
  let open: { name: string; at: number; brace: number } | undefined;
  for (let i = 0; i < code.length; i++) {
    if (code[i] === '{') {
      if (depth === 0) {
        const def = definitionBefore(code, i);
        open = def && { ...def, brace: i };
      }
      depth++;
    } else if (code[i] === '}') {
      depth--;
      if (depth === 0 && open) {
        found.push({ name: open.name, line: lineAt(code, open.at), lines: lineAt(code, i) - lineAt(code, open.brace) + 1 });
        open = undefined;
      }
    }
  }
  return found;
}
