/**
 * Every failure a user can cause or meet is a HyperbuildError: one clear line,
 * a hint that says what to do next, and an exit code a Makefile can trust.
 * Each class below is one row of the exit-code table (exit-codes.ts, the
 * README): errors are typed where they arise, never matched on strings later.
 * Anything else reaching the CLI is a bug and is reported as such.
 */
export const ExitCode = {
  /** Any other hyperbuild failure (a host file cannot be written, …), and bugs ("internal error"). */
  failure: 1,
  /** Bad usage or bad input (image, reference, flags, bundle). */
  usage: 2,
  /** A registry cannot be reached, keeps failing after retries, or answers what no registry should. */
  registry: 3,
  /** A registry refused access (credentials missing or wrong, token loop). */
  accessDenied: 4,
  /** A deadline passed (`--registry-timeout`; `boot --timeout`), as timeout(1) reports it. */
  timeout: 124,
  /** Docker-compatible: hyperbuild itself or the VM failed. */
  vmFailure: 125,
  /** Docker-compatible: the command exists but cannot be executed. */
  notExecutable: 126,
  /** Docker-compatible: the command was not found. */
  notFound: 127,
} as const;

export interface ErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class HyperbuildError extends Error {
  /** What to do next; set once, by the throw site or by the boundary that names the input (withHint). */
  hint?: string;
  readonly exitCode: number;

  constructor(message: string, options: ErrorOptions & { exitCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HyperbuildError';
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.failure;
  }

  /** Give the error a hint unless its throw site already said something more precise. */
  withHint(hint: string): this {
    this.hint ??= hint;
    return this;
  }
}

/** An input (image, layer, manifest, archive, flag, reference, bundle) is malformed or hostile: exit 2. */
export class BadInputError extends HyperbuildError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { ...options, exitCode: ExitCode.usage });
    this.name = 'BadInputError';
  }
}

/** A registry is unreachable, keeps failing after the retries, or misbehaves (redirect loop, not `/v2/`): exit 3. */
export class RegistryError extends HyperbuildError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { hint: 'the registry may be down, overloaded or mistyped: check the address, then try again later', ...options, exitCode: ExitCode.registry });
    this.name = 'RegistryError';
  }
}

/** A registry refused access after login and token renewal (HTTP 401/403): exit 4. */
export class AccessDeniedError extends HyperbuildError {
  constructor(message: string, options: ErrorOptions & { registry?: string } = {}) {
    const login = options.registry ? `'hyperbuild login ${options.registry}'` : "'hyperbuild login REGISTRY'";
    super(message, { hint: `check the repository name and your access to it, then run ${login}`, ...options, exitCode: ExitCode.accessDenied });
    this.name = 'AccessDeniedError';
  }
}

/** A deadline passed (a registry that does not answer, or answers too slowly; the retry budget): exit 124. */
export class DeadlineError extends HyperbuildError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { hint: 'if the registry is slow but alive, raise --registry-timeout; otherwise check the address and your network', ...options, exitCode: ExitCode.timeout });
    this.name = 'DeadlineError';
  }
}

/** hyperbuild could not run the VM, or the VM failed before the app's exit code was known: exit 125. */
export class VmFailureError extends HyperbuildError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, { hint: 'rerun with --verbose to see the QEMU command line and the guest console', ...options, exitCode: ExitCode.vmFailure });
    this.name = 'VmFailureError';
  }
}

/** Control characters from hostile input (a name with a newline or an escape) must not break the one-line form. */
export function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}
