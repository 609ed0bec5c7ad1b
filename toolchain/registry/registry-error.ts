/**
 * Turn a registry's answer or a network failure into the error class of the
 * exit-code table (errors/errors.ts) with one line a user can act on:
 * access refused (4), a registry that cannot be reached or keeps failing (3),
 * a deadline that passed (124), a reference that names nothing (2).
 * Registries explain errors as `{"errors":[{"code","message"}]}`.
 */
import { AccessDeniedError, BadInputError, DeadlineError, HyperbuildError, RegistryError } from '../errors/errors.ts';
import { DeadlinePassed, seconds } from './deadlines.ts';
import type { HttpResponse } from './transport.ts';
import { RetriesExhausted, RetryableStatusError } from './retry.ts';

const MAX_ERROR_BODY = 16 * 1024;

/**
 * The start of a response body, as text. A broken body does not hide the
 * status (the text is a courtesy) unless `rethrow`: then a failure, a
 * deadline above all, is the caller's to report.
 */
export async function readSmallBody(res: HttpResponse, limit = MAX_ERROR_BODY, opts: { rethrow?: boolean } = {}): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) break;
      chunks.push(chunk);
    }
  } catch (err) {
    if (opts.rethrow) throw err;
  } finally {
    res.body.destroy();
  }
  return Buffer.concat(chunks).toString('utf8');
}

function explain(body: string): string {
  try {
    const parsed = JSON.parse(body) as { errors?: { code?: string; message?: string }[] };
    const first = parsed.errors?.[0];
    if (first) return [first.code, first.message].filter(Boolean).join(': ');
  } catch {
    // not JSON: fall through to the raw text
  }
  return body.trim().split('\n')[0]?.slice(0, 200) ?? '';
}

/** Throw the table's error for an unexpected status; `what` says what we were doing. */
export async function failResponse(res: HttpResponse, what: string, registry: string): Promise<never> {
  const detail = explain(await readSmallBody(res));
  const suffix = detail ? ` (${detail})` : '';
  if (res.status === 401 || res.status === 403) throw new AccessDeniedError(`${what}: access denied by ${registry} (HTTP ${res.status})${suffix}`, { registry });
  if (res.status === 404) throw new BadInputError(`${what}: not found on ${registry}${suffix}`, { hint: 'check the repository, tag or digest' });
  throw new RegistryError(`${what}: ${registry} answered HTTP ${res.status}${suffix}`);
}

const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|CERT_|HOSTNAME_MISMATCH|EPROTO)/;

export function isTlsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TLS_CODES.test(code);
}

/** `; gave up after 5 tries in 12 s`, when retries were made. */
function gaveUpNote(gaveUp: RetriesExhausted | undefined): string {
  if (!gaveUp) return '';
  return `; gave up after ${gaveUp.tries} ${gaveUp.tries === 1 ? 'try' : 'tries'} in ${seconds(gaveUp.elapsedMs)}`;
}

/** A retryable status that kept coming back, or a Retry-After past the budget. */
function statusError(last: RetryableStatusError, gaveUp: RetriesExhausted | undefined, what: string, registry: string): HyperbuildError {
  if (gaveUp?.reason === 'retry-after' && last.retryAfterMs !== undefined) {
    return new RegistryError(`${what}: ${registry} answered HTTP ${last.status} and asks to retry in ${seconds(last.retryAfterMs)}, past the --registry-timeout budget${gaveUpNote(gaveUp)}`, {
      hint: last.status === 429 ? 'the registry is rate-limiting: try again later, or log in (anonymous pulls get lower limits)' : 'the registry is unavailable: try again later',
    });
  }
  return new RegistryError(`${what}: ${last.message}${gaveUpNote(gaveUp)}`);
}

/** Give up on a request: out of retries, out of time, or a failure not worth retrying. */
export function asRegistryError(err: unknown, what: string, registry: string): Error {
  const gaveUp = err instanceof RetriesExhausted ? err : undefined;
  const last = gaveUp ? gaveUp.last : err;
  if (last instanceof HyperbuildError) return last;
  if (last instanceof RetryableStatusError) return statusError(last, gaveUp, what, registry);
  if (last instanceof DeadlinePassed) return new DeadlineError(`${what}: ${last.message}${gaveUpNote(gaveUp)}`, { cause: last });
  if (isTlsError(last)) {
    return new RegistryError(`${what}: TLS with ${registry} failed: ${(last as Error).message}`, {
      hint: 'pass --ca-file with the CA that signed the registry certificate, or --tls-verify=false if you trust the network',
      cause: last,
    });
  }
  const code = (last as { code?: unknown } | null)?.code;
  if (code === 'ERR_TOO_MANY_REDIRECTS') {
    return new RegistryError(`${what}: ${(last as Error).message}`, { hint: 'the registry (or a proxy in front of it) redirects in a loop; check the address, or report it to its operator', cause: last });
  }
  if (typeof code === 'string' || (last instanceof Error && isConnectionMessage(last.message))) {
    return new RegistryError(`${what}: cannot talk to ${registry}: ${(last as Error).message}${gaveUpNote(gaveUp)}`, { hint: 'check the registry address and your network', cause: last });
  }
  return last instanceof Error ? last : new Error(String(last));
}

function isConnectionMessage(message: string): boolean {
  return message === 'aborted' || message === 'socket hang up';
}
