/**
 * When to try a registry request again, and when to stop. Registries and the
 * CDNs in front of them shed load with 429/503 and drop connections; a pull
 * of a big image should ride that out instead of failing on the first
 * hiccup, but never past its budget (--registry-timeout): a registry that
 * asks to wait longer than the budget allows is given up on at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryPolicy {
  /** Total tries, first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is clamped (a registry asking for an hour is not worth waiting for). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8000, maxRetryAfterMs: 10_000 };

/** A response status worth retrying; carries the server's Retry-After, if any. */
export class RetryableStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RetryableStatusError';
  }
}

/** Why withRetry stopped: out of tries, out of budget, or told to wait past the budget. */
export type GaveUpReason = 'attempts' | 'budget' | 'retry-after';

/** A retryable failure that kept happening: the last error, and how long and how often we tried. */
export class RetriesExhausted extends Error {
  constructor(
    readonly last: unknown,
    readonly tries: number,
    readonly elapsedMs: number,
    readonly reason: GaveUpReason,
  ) {
    super(last instanceof Error ? last.message : String(last));
    this.name = 'RetriesExhausted';
  }
}

/** The error that ended the retries (unwrapped), for callers that decide on its kind. */
export function lastError(err: unknown): unknown {
  return err instanceof RetriesExhausted ? err.last : err;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

export function isRetryableError(err: unknown): boolean {
  if (err instanceof RetryableStatusError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return message === 'aborted' || message === 'socket hang up';
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxRetryAfterMs);
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  // Full jitter keeps many clients from retrying in lockstep.
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

/**
 * Run `fn` until it succeeds, fails with something not worth retrying (rethrown
 * unchanged), or keeps failing: out of attempts, past `deadline` (epoch ms), or
 * asked by Retry-After to wait beyond it; then a RetriesExhausted is thrown.
 */
export async function withRetry<T>(policy: RetryPolicy, fn: (attempt: number) => Promise<T>, onRetry?: (err: unknown, delayMs: number) => void, deadline = Infinity): Promise<T> {
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isRetryableError(err)) throw err;
      const tries = attempt + 1;
      const retryAfter = err instanceof RetryableStatusError ? err.retryAfterMs : undefined;
      const delay = backoffDelay(policy, attempt, retryAfter);
      const now = Date.now();
      const reason: GaveUpReason | undefined =
        retryAfter !== undefined && now + retryAfter > deadline ? 'retry-after' : tries >= policy.attempts ? 'attempts' : now + delay >= deadline ? 'budget' : undefined;
      if (reason) throw new RetriesExhausted(err, tries, now - started, reason);
      onRetry?.(err, delay);
      await sleep(delay);
    }
  }
}
