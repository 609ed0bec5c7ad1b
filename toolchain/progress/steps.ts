/**
 * Progress for long commands: named steps run in order, shown on stderr
 * (listr2, loaded only when something is shown).
 */

/** One stage of a long command, shown as a progress line. */
export interface Step<C> {
  title: string;
  /** Return a reason to show the step as skipped (e.g. "cached"). */
  skip?: (ctx: C) => string | false;
  run: (ctx: C, report: (line: string) => void) => Promise<void>;
}

/** `auto`: a live tree on a terminal, plain lines otherwise; `silent` for --json and tests. */
export type ProgressMode = 'auto' | 'silent';

/**
 * Run steps in order with listr2. Progress goes to stderr so stdout stays
 * clean for results (`--json`); errors propagate unchanged to the caller.
 */
export async function runSteps<C extends object>(steps: Step<C>[], ctx: C, mode: ProgressMode): Promise<C> {
  if (mode === 'silent') {
    // What listr2 does with nothing to show, without loading it (a --json no-op build is mostly start-up).
    for (const s of steps) if (!s.skip?.(ctx)) await s.run(ctx, () => {});
    return ctx;
  }
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  const stderr = process.stderr;
  const logger = new ListrLogger({ processOutput: new ProcessOutput(stderr, stderr) });
  const list = new Listr<C, 'default', 'simple'>(
    steps.map((s) => ({
      title: s.title,
      skip: s.skip ? (c: C) => s.skip!(c) : undefined,
      task: async (c: C, task) => {
        await s.run(c, (line) => {
          task.output = line;
        });
      },
    })),
    {
      ctx,
      renderer: 'default',
      fallbackRenderer: 'simple',
      // A terminal of no known width (a pty nobody sized, as under `script` in CI) would wrap every character: plain lines.
      fallbackRendererCondition: !stderr.isTTY || !(stderr.columns > 0) || process.env.TERM === 'dumb',
      rendererOptions: { logger, collapseSubtasks: false },
      fallbackRendererOptions: { logger },
      registerSignalListeners: false,
      exitOnError: true,
    },
  );
  return list.run();
}
