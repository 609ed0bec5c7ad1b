/**
 * The HTTP layer under the registry client, on node:http(s) rather than the
 * global fetch: Node 20's fetch cannot take a per-registry CA bundle or skip
 * verification without undici's Agent, which Node does not expose (and we add
 * no npm dependencies). node:https takes `ca` and `rejectUnauthorized` per
 * agent, gives us the raw response stream for digest verification, and lets
 * us follow redirects ourselves so Authorization never leaks to blob storage.
 */
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Readable } from 'node:stream';
import { DeadlinePassed, seconds } from './deadlines.ts';

export interface TlsSettings {
  /** false = accept any certificate from the registry host (`--tls-verify=false`). */
  verify: boolean;
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots. */
  ca?: Buffer;
}

/** A body we can send again on retry: bytes, or a factory for a fresh stream. */
export type RequestBody = Buffer | { length: number; open: () => Readable };

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** Follow 3xx for GET/HEAD (blob downloads redirect to storage). */
  followRedirects?: boolean;
  /** Deadlines of this exchange (default: DEFAULT_LIMITS from now). */
  limits?: RequestLimits;
}

/** How long one exchange may take, phase by phase, and as a whole (body included). */
export interface RequestLimits {
  connectMs: number;
  /** From the request written to the response headers complete. */
  firstByteMs: number;
  /** A silence mid-body. */
  idleMs: number;
  /** Epoch ms by which the whole exchange, redirects and response body included, is over. */
  deadline: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Where the response finally came from, after redirects. */
  url: URL;
  body: http.IncomingMessage;
}

const MAX_REDIRECTS = 10;
/** For callers that pass no limits (the registry client always does). */
const DEFAULT_PHASE_MS = 10_000;

function defaultLimits(): RequestLimits {
  return { connectMs: DEFAULT_PHASE_MS, firstByteMs: DEFAULT_PHASE_MS, idleMs: DEFAULT_PHASE_MS, deadline: Date.now() + 3 * DEFAULT_PHASE_MS };
}

export class HttpTransport {
  private readonly registryAgent: https.Agent;
  private readonly foreignAgent: https.Agent;
  private readonly plainAgent = new http.Agent({ keepAlive: true });

  constructor(
    /** host[:port] that `tls` applies to; redirect targets get normal verification. */
    private readonly registryHost: string,
    tls: TlsSettings,
  ) {
    const ca = tls.ca ? [...rootCertificates, tls.ca.toString('utf8')] : undefined;
    this.registryAgent = new https.Agent({ keepAlive: true, ca, rejectUnauthorized: tls.verify });
    this.foreignAgent = new https.Agent({ keepAlive: true, ca });
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    let url = req.url;
    const headers = { ...(req.headers ?? {}) };
    const redirectable = req.followRedirects !== false && (req.method === 'GET' || req.method === 'HEAD');
    const limits = req.limits ?? defaultLimits();
    for (let hops = 0; ; hops++) {
      const res = await this.once(req.method, url, headers, req.body, limits);
      const location = res.headers.location;
      if (!redirectable || ![301, 302, 303, 307, 308].includes(res.statusCode ?? 0) || !location) return { status: res.statusCode ?? 0, headers: res.headers, url, body: res };
      res.resume();
      if (hops >= MAX_REDIRECTS) throw Object.assign(new Error(`too many redirects from ${req.url.host}`), { code: 'ERR_TOO_MANY_REDIRECTS' });
      const next = new URL(location, url);
      // Storage (S3, GCS, a CDN) must never see the registry's credentials.
      if (next.host !== url.host || next.protocol !== url.protocol) delete headers.Authorization;
      url = next;
    }
  }

  private once(method: string, url: URL, headers: Record<string, string>, body: RequestBody | undefined, limits: RequestLimits): Promise<http.IncomingMessage> {
    const isHttps = url.protocol === 'https:';
    const agent = !isHttps ? this.plainAgent : url.host === this.registryHost ? this.registryAgent : this.foreignAgent;
    const allHeaders: Record<string, string> = { 'User-Agent': 'hyperbuild', ...headers };
    if (body !== undefined) allHeaders['Content-Length'] = String(body.length);
    else if (method === 'PUT' || method === 'POST' || method === 'PATCH') allHeaders['Content-Length'] = '0';
    return new Promise((resolve, reject) => {
      let response: http.IncomingMessage | undefined;
      const request = (isHttps ? https : http).request(url, { method, headers: allHeaders, agent }, (res) => {
        response = res;
        clearTimeout(firstByte);
        res.setTimeout(limits.idleMs, () => res.destroy(new DeadlinePassed('idle', `${url.host} sent nothing for ${seconds(limits.idleMs)}`)));
        // The whole-exchange deadline keeps running while the caller reads the body.
        res.on('close', () => clearTimeout(whole));
        resolve(res);
      });
      const fail = (err: DeadlinePassed) => request.destroy(err);
      let firstByte: NodeJS.Timeout | undefined;
      const startFirstByte = () => {
        clearTimeout(firstByte);
        firstByte = setTimeout(() => fail(new DeadlinePassed('first-byte', `${url.host} did not answer ${method} ${url.pathname} within ${seconds(limits.firstByteMs)}`)), limits.firstByteMs).unref();
      };
      const whole = setTimeout(() => {
        const doing = response ? 'finish sending' : 'answer';
        const err = new DeadlinePassed(response ? 'transfer' : 'first-byte', `${url.host} did not ${doing} ${method} ${url.pathname} before the deadline`);
        request.destroy(err);
        response?.destroy(err);
      }, Math.max(0, limits.deadline - Date.now())).unref();
      request.on('socket', (socket) => {
        if (!socket.connecting) return;
        const connect = setTimeout(() => fail(new DeadlinePassed('connect', `cannot connect to ${url.host} within ${seconds(limits.connectMs)}`)), limits.connectMs).unref();
        socket.once(isHttps ? 'secureConnect' : 'connect', () => clearTimeout(connect));
        socket.once('close', () => clearTimeout(connect));
      });
      // The answer is due once the request is written (an upload's body can take long).
      request.on('finish', startFirstByte);
      request.on('close', () => {
        clearTimeout(firstByte);
        if (!response) clearTimeout(whole);
      });
      request.on('error', reject);
      if (body === undefined) request.end();
      else if (Buffer.isBuffer(body)) request.end(body);
      else {
        const stream = body.open();
        stream.on('error', (err) => request.destroy(err));
        // A failed request must not leave the file it was sending open.
        request.on('close', () => stream.destroy());
        stream.pipe(request);
      }
    });
  }

  close(): void {
    this.registryAgent.destroy();
    this.foreignAgent.destroy();
    this.plainAgent.destroy();
  }
}
