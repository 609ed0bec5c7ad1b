/**
 * Every failure a user can cause or meet is a HyperbuildError: one clear line,
 * a hint that says what to do next, and an exit code a Makefile can trust.
 * Anything else reaching the CLI is a bug and is reported as such.
 */
export const ExitCode = {
  /** Bad usage or bad input (image, reference, flags). */
  usage: 2,
  /** Docker-compatible: hyperbuild itself or the VM failed. */
  vmFailure: 125,
  /** Docker-compatible: the command exists but cannot be executed. */
  notExecutable: 126,
  /** Docker-compatible: the command was not found. */
  notFound: 127,
  /** Any other hyperbuild failure. */
  failure: 1,
} as const;

export class HyperbuildError extends Error {
  readonly hint?: string;
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HyperbuildError';
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? ExitCode.failure;
  }
}

/** An input (image, layer, manifest, registry answer) is malformed or hostile. */
export class BadInputError extends HyperbuildError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, { ...options, exitCode: ExitCode.usage });
    this.name = 'BadInputError';
  }
}
