/**
 * How long hyperbuild waits on a registry, all from one value,
 * `--registry-timeout` (default 30 s): the budget of one operation (a request
 * with its retries), and a third of it for each phase of one try (connect,
 * the response headers, a silence mid-body). Blobs get the budget plus their
 * size at the slowest rate worth waiting for, so a 1 GB layer on a slow link
 * finishes but a server sending a byte a second does not keep a build alive.
 */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 30_000;
/** Slower than this (64 KiB/s) a transfer is treated as stuck. */
export const MIN_BYTES_PER_SECOND = 64 * 1024;

export interface RegistryDeadlines {
  /** --registry-timeout: one operation, retries and their waits included, ends within it. */
  budgetMs: number;
  /** TCP (and TLS) connect of one try. */
  connectMs: number;
  /** From the request sent to its response headers complete. */
  firstByteMs: number;
  /** No byte of a response body for this long. */
  idleMs: number;
}

export function registryDeadlines(timeoutMs = DEFAULT_REGISTRY_TIMEOUT_MS): RegistryDeadlines {
  const phase = Math.max(1, Math.round(timeoutMs / 3));
  return { budgetMs: timeoutMs, connectMs: phase, firstByteMs: phase, idleMs: phase };
}

/** The budget of moving `bytes` (a blob): --registry-timeout plus the bytes at the slowest acceptable rate. */
export function transferBudgetMs(d: RegistryDeadlines, bytes = 0): number {
  return d.budgetMs + Math.ceil((Math.max(0, bytes) / MIN_BYTES_PER_SECOND) * 1000);
}

/** Seconds for messages: `30 s`, `0.5 s`. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))} s`;
}

/** A try that took too long; `phase` says which deadline passed. Retryable (code ETIMEDOUT), like a dropped connection. */
export class DeadlinePassed extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly phase: 'connect' | 'first-byte' | 'idle' | 'transfer',
    message: string,
  ) {
    super(message);
    this.name = 'DeadlinePassed';
  }
}
