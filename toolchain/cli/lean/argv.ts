/**
 * The lean CLI's argument parser: reads argv against oclif-shaped flag and
 * argument definitions, for the plain spellings only (`--name VALUE`,
 * `--name=VALUE`, `-c VALUE`, `--bool`, positionals). Everything else —
 * help, `--`, unknown or malformed flags, a value oclif would refuse, greedy
 * `multiple` values — is declined with a reason, and the caller hands the
 * whole command line to oclif, so users see exactly oclif's behaviour there.
 */

/** The parts of an oclif flag definition the lean path understands. */
export interface LeanFlagSpec {
  type: 'option' | 'boolean';
  char?: string;
  required?: boolean;
  multiple?: boolean;
  /** `multipleNonGreedy`: a repeated flag takes one value each time. */
  nonGreedy?: boolean;
  options?: readonly string[];
  default?: unknown;
  env?: string;
  /** Boolean flags: `--no-NAME` sets false (oclif's allowNo). */
  allowNo?: boolean;
  /** Integer flags: the bounds oclif checks. */
  integer?: { min?: number; max?: number };
  /** Set when the definition uses a feature the lean parser does not implement. */
  unsupported?: string;
}

export interface LeanArgSpec {
  required?: boolean;
  unsupported?: string;
}

export interface LeanCommandSpec {
  flags: Record<string, LeanFlagSpec>;
  args: Record<string, LeanArgSpec>;
  strict?: boolean;
}

export interface LeanParsed {
  args: Record<string, string | undefined>;
  flags: Record<string, unknown>;
  /** Like oclif's parse metadata: which flags took their default. */
  metadata: { flags: Record<string, { setFromDefault?: boolean }> };
}

export type LeanParseResult = LeanParsed | { declined: string };

type FlagValues = Map<string, string[] | boolean>;

function checkValue(name: string, spec: LeanFlagSpec, value: string): string | undefined {
  if (spec.options && !spec.options.includes(value)) return `--${name} ${value} is not one of its options`;
  if (spec.integer) {
    if (!/^-?\d+$/.test(value)) return `--${name} ${value} is not an integer`;
    const n = Number(value);
    if ((spec.integer.min !== undefined && n < spec.integer.min) || (spec.integer.max !== undefined && n > spec.integer.max)) return `--${name} ${value} is out of range`;
  }
  return undefined;
}

/** Walk argv once: flags into `values`, the rest into `positionals`; a string is a reason to decline. */
function scan(argv: readonly string[], spec: LeanCommandSpec, values: FlagValues, positionals: string[]): string | undefined {
  const byChar = new Map(Object.entries(spec.flags).filter(([, f]) => f.char).map(([n, f]) => [f.char!, n]));
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (!token.startsWith('-') || token === '-') {
      positionals.push(token);
      continue;
    }
    if (token === '--') return '`--`';
    const long = /^--([^=]+)(?:=(.*))?$/s.exec(token);
    const negated = long && !spec.flags[long[1]] && long[1].startsWith('no-') && long[2] === undefined ? spec.flags[long[1].slice(3)] : undefined;
    if (negated?.type === 'boolean' && negated.allowNo) {
      if (negated.unsupported) return `${token} uses ${negated.unsupported}`;
      if (values.has(long![1].slice(3))) return `boolean ${token}`;
      values.set(long![1].slice(3), false);
      continue;
    }
    const name = long ? long[1] : token.length === 2 ? byChar.get(token[1]) : undefined;
    const flag = name === undefined ? undefined : spec.flags[name];
    if (name === undefined || !flag) return `flag ${token}`;
    if (flag.unsupported) return `--${name} uses ${flag.unsupported}`;
    if (flag.type === 'boolean') {
      if (long?.[2] !== undefined || values.has(name)) return `boolean ${token}`;
      values.set(name, true);
      continue;
    }
    let value = long?.[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || value.startsWith('-')) return `${token} without a plain value`;
    }
    const bad = checkValue(name, flag, value);
    if (bad) return bad;
    const previous = values.get(name);
    if (previous && !flag.multiple) return `--${name} given twice`;
    values.set(name, [...((previous as string[] | undefined) ?? []), value]);
    // oclif's `multiple` flags take the following plain words as more values.
    if (flag.multiple && !flag.nonGreedy && argv[i + 1] !== undefined && !argv[i + 1].startsWith('-')) return `--${name} followed by a plain word`;
  }
  return undefined;
}

/** The flag's value from argv, else its environment variable, else its default (oclif's order). */
function resolveFlag(name: string, flag: LeanFlagSpec, given: string[] | boolean | undefined, env: NodeJS.ProcessEnv): { value?: unknown; fromDefault?: boolean; declined?: string } {
  if (given === undefined && flag.env && env[flag.env]) {
    if (flag.type === 'boolean') return { declined: `--${name} from $${flag.env}` };
    given = [env[flag.env]!];
    const bad = checkValue(name, flag, env[flag.env]!);
    if (bad) return { declined: bad };
  }
  if (given !== undefined) {
    if (flag.type === 'boolean') return { value: given };
    const list = (given as string[]).map((v) => (flag.integer ? Number(v) : v));
    return { value: flag.multiple ? list : list[0] };
  }
  if (flag.required) return { declined: `--${name} is missing` };
  if (typeof flag.default === 'function') return { declined: `--${name} has a computed default` };
  // Like oclif, every flag not given counts as set from its default, even one without a default.
  return { value: flag.default, fromDefault: true };
}

export function parseLeanArgv(argv: readonly string[], spec: LeanCommandSpec, env: NodeJS.ProcessEnv = process.env): LeanParseResult {
  const values: FlagValues = new Map();
  const positionals: string[] = [];
  const scanned = scan(argv, spec, values, positionals);
  if (scanned) return { declined: scanned };
  const argNames = Object.keys(spec.args);
  if (spec.strict !== false && positionals.length > argNames.length) return { declined: 'unexpected arguments' };
  const args: LeanParsed['args'] = {};
  for (const [i, name] of argNames.entries()) {
    const arg = spec.args[name];
    if (arg.unsupported) return { declined: `argument ${name} uses ${arg.unsupported}` };
    if (positionals[i] === undefined && arg.required) return { declined: `missing argument ${name}` };
    args[name] = positionals[i];
  }
  const flags: LeanParsed['flags'] = {};
  const metadata: LeanParsed['metadata'] = { flags: {} };
  for (const [name, flag] of Object.entries(spec.flags)) {
    const r = resolveFlag(name, flag, values.get(name), env);
    if (r.declined) return { declined: r.declined };
    if (r.value !== undefined) flags[name] = r.value;
    if (r.fromDefault) metadata.flags[name] = { setFromDefault: true };
  }
  return { args, flags, metadata };
}
