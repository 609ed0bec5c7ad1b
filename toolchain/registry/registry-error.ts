/**
 * Turn a registry's answer or a network failure into one line a user can act
 * on. Registries explain errors as `{"errors":[{"code","message"}]}`.
 */
import { HyperbuildError } from '../errors/errors.ts';
import type { HttpResponse } from './transport.ts';
import { RetryableStatusError } from './retry.ts';

const MAX_ERROR_BODY = 16 * 1024;

export async function readSmallBody(res: HttpResponse, limit = MAX_ERROR_BODY): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > limit) break;
      chunks.push(chunk);
    }
  } catch {
    // The error text is a courtesy; a broken body must not hide the status.
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

/** Throw a HyperbuildError for an unexpected status; `what` says what we were doing. */
export async function failResponse(res: HttpResponse, what: string, registry: string): Promise<never> {
  const detail = explain(await readSmallBody(res));
  const suffix = detail ? ` (${detail})` : '';
  if (res.status === 401 || res.status === 403) {
    throw new HyperbuildError(`${what}: access denied by ${registry} (HTTP ${res.status})${suffix}`, {
      hint: `check the repository name, then run 'hyperbuild login ${registry}'`,
    });
  }
  if (res.status === 404) throw new HyperbuildError(`${what}: not found on ${registry}${suffix}`, { hint: 'check the repository, tag or digest' });
  throw new HyperbuildError(`${what}: ${registry} answered HTTP ${res.status}${suffix}`);
}

const TLS_CODES = /^(ERR_SSL_|ERR_TLS_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|CERT_|HOSTNAME_MISMATCH|EPROTO)/;

export function isTlsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TLS_CODES.test(code);
}

/** Give up on a request: out of retries, or a failure not worth retrying. */
export function asRegistryError(err: unknown, what: string, registry: string): Error {
  if (err instanceof HyperbuildError) return err;
  if (err instanceof RetryableStatusError) return new HyperbuildError(`${what}: ${err.message}; giving up after retries`);
  if (isTlsError(err)) {
    return new HyperbuildError(`${what}: TLS with ${registry} failed: ${(err as Error).message}`, {
      hint: 'pass --ca-file with the CA that signed the registry certificate, or --tls-verify=false if you trust the network',
      cause: err,
    });
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    return new HyperbuildError(`${what}: cannot talk to ${registry}: ${(err as Error).message}`, { hint: 'check the registry address and your network', cause: err });
  }
  return err instanceof Error ? err : new Error(String(err));
}
