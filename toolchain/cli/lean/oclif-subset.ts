/**
 * The lean CLI's stand-in for `@oclif/core` (esbuild aliases the package to
 * this module in the lean bundle only, see toolchain/esbuild.mjs): the few
 * pieces the lean commands' classes touch — `Flags`/`Args` as plain
 * definitions, and a `Command` with parse, log, logJson, exit and
 * jsonEnabled that behave like oclif's. The command classes, their flags and
 * their run() stay the one definition both CLIs use. A definition using an
 * option this module does not implement is marked unsupported, and the lean
 * runner hands such a command line to oclif (run-lean.ts).
 */
import { format, inspect } from 'node:util';
import { parseLeanArgv, type LeanArgSpec, type LeanCommandSpec, type LeanFlagSpec, type LeanParsed } from './argv.ts';

/** Options that only change help output, which the lean path never shows. */
const HELP_ONLY = new Set(['description', 'summary', 'helpGroup', 'defaultHelp', 'helpValue', 'hidden', 'helpLabel', 'noCacheDefault']);

type FlagOptions = Record<string, unknown>;

function flagSpec(type: LeanFlagSpec['type'], opts: FlagOptions, handled: string[]): LeanFlagSpec {
  const unknown = Object.keys(opts).find((k) => !HELP_ONLY.has(k) && !handled.includes(k));
  return {
    type,
    char: opts.char as string | undefined,
    required: opts.required as boolean | undefined,
    multiple: opts.multiple as boolean | undefined,
    nonGreedy: opts.multipleNonGreedy as boolean | undefined,
    options: opts.options as string[] | undefined,
    default: opts.default,
    env: opts.env as string | undefined,
    ...(unknown ? { unsupported: unknown } : {}),
  };
}

const OPTION_KEYS = ['char', 'required', 'multiple', 'multipleNonGreedy', 'options', 'default', 'env'];

export const Flags = {
  string: (opts: FlagOptions = {}) => flagSpec('option', opts, OPTION_KEYS),
  integer: (opts: FlagOptions = {}) => {
    const spec = flagSpec('option', opts, [...OPTION_KEYS, 'min', 'max']);
    return { ...spec, integer: { min: opts.min as number | undefined, max: opts.max as number | undefined } };
  },
  boolean: (opts: FlagOptions = {}) => ({ ...flagSpec('boolean', opts, ['char', 'default', 'allowNo']), allowNo: opts.allowNo as boolean | undefined }),
};

export const Args = {
  string: (opts: FlagOptions = {}): LeanArgSpec => {
    const unknown = Object.keys(opts).find((k) => k !== 'required' && !HELP_ONLY.has(k));
    return { required: opts.required as boolean | undefined, ...(unknown ? { unsupported: unknown } : {}) };
  },
};

class CLIError extends Error {
  readonly oclif: { exit?: number };

  constructor(message: string, options: { exit?: number } = {}) {
    super(message);
    this.oclif = { exit: options.exit };
  }
}

class ExitError extends CLIError {
  readonly code = 'EEXIT';

  constructor(exitCode = 1) {
    super(`EEXIT: ${exitCode}`, { exit: exitCode });
  }
}

export const Errors = { CLIError, ExitError };

/** What lean commands read from oclif's Config. */
export interface LeanConfig {
  bin: string;
  version: string;
}

/** The lean parse input: a command class, or boot-style `{ args, flags, baseFlags, … }`. */
interface ParseInput {
  args?: Record<string, LeanArgSpec>;
  flags?: Record<string, LeanFlagSpec>;
  baseFlags?: Record<string, LeanFlagSpec>;
  enableJsonFlag?: boolean;
  strict?: boolean;
}

/** oclif's aggregateFlags: the command's flags, its base flags and `--json` when enabled. */
export function leanCommandSpec(input: ParseInput): LeanCommandSpec {
  const json: Record<string, LeanFlagSpec> = input.enableJsonFlag ? { json: Flags.boolean() } : {};
  return { args: input.args ?? {}, flags: { ...json, ...input.baseFlags, ...input.flags }, strict: input.strict };
}

/** Thrown by parse() for a command line the lean parser leaves to oclif. */
export class LeanDeclined extends Error {}

export class Command {
  static id?: string;
  static enableJsonFlag = false;
  static strict = true;
  static args: Record<string, LeanArgSpec> = {};
  static flags: Record<string, LeanFlagSpec> = {};
  static baseFlags: Record<string, LeanFlagSpec> = {};

  id?: string;

  constructor(
    public argv: string[],
    public config: LeanConfig,
  ) {
    this.id = this.ctor.id;
  }

  get ctor(): typeof Command {
    return this.constructor as typeof Command;
  }

  async parse(options: ParseInput = this.ctor, argv: string[] = this.argv): Promise<LeanParsed> {
    const parsed = parseLeanArgv(argv, leanCommandSpec(options));
    if ('declined' in parsed) throw new LeanDeclined(parsed.declined);
    this.argv = [...argv];
    return parsed;
  }

  /** oclif's rule: `--json` before any `--`, or HYPERBUILD_CONTENT_TYPE=json. */
  jsonEnabled(): boolean {
    if (!this.ctor.enableJsonFlag) return false;
    if (process.env[`${this.config.bin.toUpperCase()}_CONTENT_TYPE`]?.toLowerCase() === 'json') return true;
    const dashdash = this.argv.indexOf('--');
    const json = this.argv.indexOf('--json');
    return json !== -1 && (dashdash === -1 || json < dashdash);
  }

  log(message: unknown = '', ...args: unknown[]): void {
    if (!this.jsonEnabled()) console.log(format(typeof message === 'string' ? message : inspect(message), ...args));
  }

  logToStderr(message: unknown = '', ...args: unknown[]): void {
    if (!this.jsonEnabled()) console.error(format(typeof message === 'string' ? message : inspect(message), ...args));
  }

  logJson(json: unknown): void {
    console.log(JSON.stringify(json, undefined, 2));
  }

  exit(code = 0): never {
    throw new ExitError(code);
  }

  async catch(err: Error): Promise<unknown> {
    throw err;
  }

  async run(): Promise<unknown> {
    return undefined;
  }
}
