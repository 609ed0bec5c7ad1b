/**
 * One registry's distribution API (`/v2/`): scheme and TLS choice, the
 * ping that discovers how to authenticate, and `send`, which every
 * manifest/blob/tag operation goes through for auth, 401 renewal and retries.
 */
import { readFile } from 'node:fs/promises';
import { AccessDeniedError, BadInputError, RegistryError } from '../errors/errors.ts';
import { Authenticator } from './auth.ts';
import type { Credentials } from './docker-config.ts';
import { dockerConfigPath, lookupCredentials } from './docker-config.ts';
import { isLoopbackRegistry, registryEndpoint } from './reference.ts';
import { asRegistryError, failResponse, isTlsError, readSmallBody } from './registry-error.ts';
import { registryDeadlines, seconds, type RegistryDeadlines } from './deadlines.ts';
import type { RetryPolicy } from './retry.ts';
import { DEFAULT_RETRY, isRetryableStatus, lastError, parseRetryAfter, RetryableStatusError, withRetry } from './retry.ts';
import type { HttpResponse, RequestBody, RequestLimits } from './transport.ts';
import { HttpTransport } from './transport.ts';

export interface RegistryOptions {
  /** Verify the registry's TLS certificate (default true). */
  tlsVerify?: boolean;
  /** PEM file with extra CA certificates to trust for the registry. */
  caFile?: string;
  /** Speak plain HTTP to a non-loopback registry (loopback falls back on its own). */
  plainHttp?: boolean;
  /** Docker config to read credentials from (default $DOCKER_CONFIG or ~/.docker/config.json). */
  dockerConfig?: string;
  /** Use these instead of the Docker config (login checks them this way). */
  credentials?: Credentials;
  retry?: Partial<RetryPolicy>;
  /** --registry-timeout: the budget of one registry operation, retries included (default 30 s; see deadlines.ts). */
  timeoutMs?: number;
  /** Parallel blob transfers (default 3). */
  concurrency?: number;
  /** Blobs up to this size are uploaded in one PUT; bigger ones in PATCH chunks of this size (default 16 MiB). */
  chunkSize?: number;
  /** Progress and retry notes, one line each. */
  log?: (line: string) => void;
}

export interface SendOptions {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  /** Path under the registry (`/v2/...`) or an absolute URL (upload Locations). */
  path: string | URL;
  scopes: string[];
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Says what we were doing, for error messages. */
  what: string;
  /**
   * Retry transient failures here (default). false for requests that are not
   * safe to repeat on their own (upload chunks): the caller retries the whole
   * operation, and gets the raw retryable error to decide with.
   */
  retry?: boolean;
  /** Epoch ms by which this request, its retries and its response body are over (default: --registry-timeout from now). */
  deadline?: number;
}

/** Say that we are waiting, and on what, once a request has gone unanswered this long. */
const WAIT_NOTICE_MS = 5_000;

export const DEFAULT_CHUNK_SIZE = 16 * 1024 * 1024;

export class RegistryClient {
  readonly retryPolicy: RetryPolicy;
  readonly deadlines: RegistryDeadlines;
  readonly concurrency: number;
  readonly chunkSize: number;
  readonly log: (line: string) => void;
  private readonly transport: HttpTransport;
  private readonly auth: Authenticator;
  private readonly endpoint: string;
  private base: URL | undefined;
  private pinging: Promise<void> | undefined;

  private constructor(
    readonly registry: string,
    private readonly options: RegistryOptions,
    ca: Buffer | undefined,
  ) {
    this.endpoint = registryEndpoint(registry);
    this.retryPolicy = { ...DEFAULT_RETRY, ...options.retry };
    this.deadlines = registryDeadlines(options.timeoutMs);
    this.concurrency = Math.max(1, options.concurrency ?? 3);
    this.chunkSize = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
    this.log = options.log ?? (() => {});
    this.transport = new HttpTransport(this.endpoint, { verify: options.tlsVerify !== false, ca });
    this.auth = new Authenticator(registry, this.transport, async () => options.credentials ?? lookupCredentials(registry, options.dockerConfig ?? dockerConfigPath()), () =>
      this.limits(Date.now() + this.deadlines.budgetMs),
    );
  }

  static async create(registry: string, options: RegistryOptions = {}): Promise<RegistryClient> {
    let ca: Buffer | undefined;
    if (options.caFile) {
      try {
        ca = await readFile(options.caFile);
      } catch (err) {
        throw new BadInputError(`cannot read --ca-file ${options.caFile}: ${(err as Error).message}`, { cause: err });
      }
      if (!ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) throw new BadInputError(`--ca-file ${options.caFile} holds no PEM certificate`);
    }
    return new RegistryClient(registry, options, ca);
  }

  /** How the registry authenticates, after ping: undefined, 'basic' or 'bearer'. */
  get authScheme(): string | undefined {
    return this.auth.scheme;
  }

  /** The base URL, once known (https://host/ or http://host/). */
  get baseUrl(): URL | undefined {
    return this.base;
  }

  /** `GET /v2/`: choose http or https, and learn how to authenticate. */
  ping(): Promise<void> {
    this.pinging ??= this.doPing().catch((err: unknown) => {
      this.pinging = undefined;
      throw asRegistryError(err, `contacting registry ${this.registry}`, this.registry);
    });
    return this.pinging;
  }

  private async doPing(): Promise<void> {
    const https = new URL(`https://${this.endpoint}/`);
    const http = new URL(`http://${this.endpoint}/`);
    let res: HttpResponse;
    if (this.options.plainHttp) {
      res = await this.pingAt(http);
    } else {
      try {
        // One try on loopback: a plain-HTTP server resets or garbles the handshake.
        res = await this.pingAt(https, isLoopbackRegistry(this.registry) ? 1 : undefined);
      } catch (err) {
        // Like Docker: a loopback registry that does not speak TLS gets plain
        // HTTP. A certificate failure is still an error (use --ca-file).
        if (!isLoopbackRegistry(this.registry) || !isPlainHttpAnswer(lastError(err))) throw err;
        res = await this.pingAt(http);
      }
    }
    await readSmallBody(res);
    if (res.status === 401) this.auth.setChallenge(headerValue(res.headers['www-authenticate']));
    else if (res.status !== 200) {
      throw new RegistryError(`${this.registry} does not look like an OCI registry: GET /v2/ answered HTTP ${res.status}`, {
        hint: `check the address: ${this.registry}/v2/ must be the OCI distribution API`,
      });
    }
    this.base = res.url.protocol === 'http:' ? http : https;
  }

  /** Deadlines of one try that must be over by `deadline`. */
  limits(deadline: number): RequestLimits {
    const { connectMs, firstByteMs, idleMs } = this.deadlines;
    return { connectMs, firstByteMs, idleMs, deadline };
  }

  private pingAt(base: URL, attempts = this.retryPolicy.attempts): Promise<HttpResponse> {
    const deadline = Date.now() + this.deadlines.budgetMs;
    const what = `contacting registry ${this.registry}`;
    return withRetry(
      { ...this.retryPolicy, attempts },
      async () => {
        const res = await this.waitingFor(what, deadline, this.transport.request({ method: 'GET', url: new URL('/v2/', base), limits: this.limits(deadline) }));
        if (isRetryableStatus(res.status)) await throwRetryable(res);
        return res;
      },
      (err, delay) => this.log(`${what}: ${(err as Error).message}; retrying in ${seconds(delay)}`),
      deadline,
    );
  }

  /** `pending`, with a progress line when it stays unanswered (a registry that is silent is not mistaken for a hung build). */
  private async waitingFor<T>(what: string, deadline: number, pending: Promise<T>): Promise<T> {
    const started = Date.now();
    const notice = setTimeout(() => {
      this.log(`${what}: waiting for ${this.registry} (no answer for ${seconds(Date.now() - started)}; giving up in ${seconds(deadline - Date.now())}, --registry-timeout)`);
    }, WAIT_NOTICE_MS).unref();
    try {
      return await pending;
    } finally {
      clearTimeout(notice);
    }
  }

  async send(opts: SendOptions): Promise<HttpResponse> {
    await this.ping();
    const deadline = opts.deadline ?? Date.now() + this.deadlines.budgetMs;
    const attempt = async (): Promise<HttpResponse> => {
      let renewed = false;
      for (;;) {
        const url = typeof opts.path === 'string' ? new URL(opts.path, this.base) : opts.path;
        const headers = { ...(opts.headers ?? {}) };
        const authorization = await this.auth.header(opts.scopes);
        if (authorization) headers.Authorization = authorization;
        const request = this.transport.request({ method: opts.method, url, headers, body: opts.body, limits: this.limits(deadline) });
        const res = await this.waitingFor(opts.what, deadline, request);
        if (res.status === 401 && !renewed && this.auth.renew(headerValue(res.headers['www-authenticate']), opts.scopes)) {
          await readSmallBody(res);
          renewed = true;
          continue;
        }
        if (isRetryableStatus(res.status)) await throwRetryable(res);
        return res;
      }
    };
    if (opts.retry === false) return attempt();
    try {
      return await withRetry(this.retryPolicy, attempt, (err, delay) => this.log(`${opts.what}: ${(err as Error).message}; retrying in ${seconds(delay)}`), deadline);
    } catch (err) {
      throw asRegistryError(err, opts.what, this.registry);
    }
  }

  /** Fail with the registry's explanation unless the status is one of `ok`. */
  async expect(res: HttpResponse, ok: number[], what: string): Promise<HttpResponse> {
    if (!ok.includes(res.status)) await failResponse(res, what, this.registry);
    return res;
  }

  /** Prove the configured credentials work: an authorized `GET /v2/`. */
  async checkLogin(): Promise<void> {
    const what = `logging in to ${this.registry}`;
    await this.ping();
    const res = await this.send({ method: 'GET', path: '/v2/', scopes: [], what });
    try {
      await this.expect(res, [200], what);
    } catch (err) {
      if (err instanceof AccessDeniedError) throw new AccessDeniedError(err.message, { hint: `check the user name and the password or token for ${this.registry}` });
      throw err;
    }
    await readSmallBody(res);
  }

  close(): void {
    this.transport.close();
  }
}

async function throwRetryable(res: HttpResponse): Promise<never> {
  const retryAfter = parseRetryAfter(headerValue(res.headers['retry-after']));
  await readSmallBody(res);
  throw new RetryableStatusError(res.status, `${res.url.host} answered HTTP ${res.status}`, retryAfter);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The TLS handshake met an HTTP server (it answers the ClientHello with plain text). */
function isPlainHttpAnswer(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ECONNRESET') return true;
  if (!isTlsError(err)) return false;
  return code === 'EPROTO' || code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long|http request/i.test((err as Error).message);
}
