/**
 * The base class of every command: the shared flags (--debug, --cache-dir)
 * and the one place that turns failures into exit codes and one-line errors.
 */
import { Command, Flags, Errors } from '@oclif/core';
import { HyperbuildError, ExitCode, oneLine } from '../errors/errors.ts';
import { defaultCacheDir } from '../cache/cache-dir.ts';

/**
 * Shared flags and the one place that turns failures into exit codes:
 * a HyperbuildError prints one line (plus its hint), anything else is a bug
 * and says so. Stack traces only with --debug.
 */
export abstract class BaseCommand extends Command {
  static enableJsonFlag = true;

  static baseFlags = {
    debug: Flags.boolean({ description: 'print stack traces and internal detail on errors', helpGroup: 'GLOBAL' }),
    'cache-dir': Flags.string({ description: 'cache directory (blobs, built initramfs, pulled bundles); kernels have their own, --kernel-cache-dir', default: defaultCacheDir(), defaultHelp: async () => '$XDG_CACHE_HOME/hyperbuild', helpGroup: 'GLOBAL' }),
  };

  protected get debugEnabled(): boolean {
    return this.argv.includes('--debug') || process.env.HYPERBUILD_DEBUG === '1';
  }

  protected async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err;
    if (this.debugEnabled && err.stack) process.stderr.write(`${err.stack}\n`);
    if (err instanceof HyperbuildError) this.fail(err.name, err.message, err.hint ?? `see 'hyperbuild ${this.id ?? ''} --help' for what it accepts`, err.exitCode);
    // oclif's own usage errors (unknown flag, missing argument) keep exit 2.
    if (err.oclif?.exit !== undefined) this.fail('UsageError', err.message, `see 'hyperbuild ${this.id ?? ''} --help'`, err.oclif.exit);
    this.fail('InternalError', `internal error: ${err.message}`, 'rerun with --debug and report it', ExitCode.failure);
  }

  /** The one error form (README "Commands"): one line, one hint line, and the JSON record with --json. */
  private fail(errorClass: string, message: string, hint: string, exitCode: number): never {
    const line = oneLine(message);
    const prefix = errorClass === 'InternalError' ? 'hyperbuild: ' : 'hyperbuild: error: ';
    process.stderr.write(`${prefix}${line}\nhint: ${oneLine(hint)}\n`);
    if (this.jsonEnabled()) process.stdout.write(`${JSON.stringify({ error: { class: errorClass, message: line, hint, exitCode } })}\n`);
    this.exit(exitCode);
  }
}
