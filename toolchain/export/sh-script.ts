/**
 * The POSIX sh around an exported VM monitor (qemu, cloud-hypervisor): quote
 * words, find companion files next to the script, and turn HyperStart's
 * console line `hyperstart: exit CODE` (PROTOCOL.md, console mode) into the
 * script's exit status. The monitor's serial output is the app's stdout and
 * stderr (merged, with the guest tty's CRLF line ends) plus kernel messages
 * that `quiet` lets through; it streams to our stdout and into a temp log the
 * last exit line is read from. No exit line (the monitor failed, the guest
 * crashed) is exit 125, as for `hyperbuild boot`.
 */
import { relative, sep } from 'node:path';

/** One sh word, single-quoted unless it is plainly safe. */
export function shQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A path for the script: `"$here/NAME"` for files in the export's own directory, else the absolute path. */
export function shPath(abs: string, outDir: string): string {
  const rel = relative(outDir, abs);
  if (rel && !rel.startsWith('..') && !rel.startsWith(sep)) return `"$here"/${shQuote(rel)}`;
  return shQuote(abs);
}

export interface ConsoleScript {
  /** Comment lines for the header (without '# '). */
  header: string[];
  /** Shell lines run before the monitor (variable set-up). */
  prelude: string[];
  /** The monitor's argv in groups (one option and its value per line), each word already quoted for sh. */
  argv: string[][];
}

/** A fixed, sed-friendly form of the console line (tests/export-*.test.ts parse it the same way). */
export const EXIT_LINE_SED = String.raw`s/.*hyperstart: exit \([0-9][0-9]*\)$/\1/p`;

export function renderConsoleScript(s: ConsoleScript): string {
  const lines = [
    '#!/bin/sh',
    ...s.header.map((h) => `# ${h}`),
    'set -u',
    'here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd) || exit 125',
    'log=$(mktemp "${TMPDIR:-/tmp}/hyperbuild-console.XXXXXX") || exit 125',
    "trap 'rm -f \"$log\"' EXIT",
    "trap 'exit 130' INT",
    "trap 'exit 143' TERM",
    ...s.prelude,
    `${s.argv.map((g) => g.join(' ')).join(' \\\n  ')} </dev/null | tee "$log"`,
    `code=$(tr -d '\\r' <"$log" | sed -n '${EXIT_LINE_SED}' | tail -n 1)`,
    'if [ -z "$code" ]; then',
    '  echo "$0: the VM ended without a \'hyperstart: exit\' line (see the output above)" >&2',
    '  exit 125',
    'fi',
    'exit "$code"',
  ];
  return `${lines.join('\n')}\n`;
}
