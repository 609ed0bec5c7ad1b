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
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Where the response finally came from, after redirects. */
  url: URL;
  body: http.IncomingMessage;
}

const MAX_REDIRECTS = 10;
/** A registry that sends nothing for this long is treated as a dropped connection. */
const IDLE_TIMEOUT_MS = 60_000;

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
    for (let hops = 0; ; hops++) {
      const res = await this.once(req.method, url, headers, req.body);
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

  private once(method: string, url: URL, headers: Record<string, string>, body: RequestBody | undefined): Promise<http.IncomingMessage> {
    const isHttps = url.protocol === 'https:';
    const agent = !isHttps ? this.plainAgent : url.host === this.registryHost ? this.registryAgent : this.foreignAgent;
    const allHeaders: Record<string, string> = { 'User-Agent': 'hyperbuild', ...headers };
    if (body !== undefined) allHeaders['Content-Length'] = String(body.length);
    else if (method === 'PUT' || method === 'POST' || method === 'PATCH') allHeaders['Content-Length'] = '0';
    return new Promise((resolve, reject) => {
      const request = (isHttps ? https : http).request(url, { method, headers: allHeaders, agent }, (res) => {
        res.setTimeout(IDLE_TIMEOUT_MS, () => res.destroy(Object.assign(new Error(`no data from ${url.host} for ${IDLE_TIMEOUT_MS / 1000}s`), { code: 'ETIMEDOUT' })));
        resolve(res);
      });
      request.setTimeout(IDLE_TIMEOUT_MS, () => request.destroy(Object.assign(new Error(`${url.host} did not answer within ${IDLE_TIMEOUT_MS / 1000}s`), { code: 'ETIMEDOUT' })));
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
