/**
 * A fault-injecting HTTP proxy (node:http) in front of a registry. Rules match
 * a method and path and fire a number of times: drop the connection mid-body,
 * answer a status (500, 429 with Retry-After) instead of forwarding, flip
 * bytes in the body, redirect blob GETs to a second "storage" host that
 * records whether it was sent an Authorization header, and the hopeless
 * registries the deadlines are for: one that never answers, one that sends
 * a byte a second (with or without Content-Length), a redirect loop, and a
 * 401 whose token (from the proxy's own /token) is never good enough.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'drop'; afterBytes: number }
  | { kind: 'status'; status: number; headers?: Record<string, string> }
  | { kind: 'corrupt' }
  | { kind: 'redirect' }
  | { kind: 'silent' }
  | { kind: 'trickle'; bytesPerSecond: number; dropLength?: boolean }
  | { kind: 'redirect-loop' }
  | { kind: 'token-loop' };

export interface FaultRule {
  method?: string;
  path: RegExp;
  fault: Fault;
  /** How many matching requests it hits; Infinity for all. */
  times: number;
}

export interface SeenRequest {
  method: string;
  path: string;
  status: number;
  range?: string;
  authorization?: string;
  fault?: Fault['kind'];
  /** Which server saw it. */
  at: 'proxy' | 'storage';
}

export interface FaultProxy {
  host: string;
  storageHost: string;
  rules: FaultRule[];
  seen: SeenRequest[];
  stop(): Promise<void>;
}

/** Send `body` a few bytes at a time, `bytesPerSecond` per second, until it ends or the client goes away. */
function trickle(up: http.IncomingMessage, res: http.ServerResponse, bytesPerSecond: number): void {
  const chunks: Buffer[] = [];
  let ended = false;
  up.on('data', (c: Buffer) => chunks.push(c));
  up.on('end', () => (ended = true));
  const slow = bytesPerSecond <= 10;
  const step = slow ? 1 : Math.round(bytesPerSecond / 10);
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer);
    const head = chunks[0];
    if (!head) {
      if (ended) {
        clearInterval(timer);
        res.end();
      }
      return;
    }
    res.write(head.subarray(0, step));
    if (head.length <= step) chunks.shift();
    else chunks[0] = head.subarray(step);
  }, slow ? 1000 / bytesPerSecond : 100);
  res.on('close', () => clearInterval(timer));
}

function forward(upstream: string, req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest, fault: Fault | undefined, extraHeaders: Record<string, string> = {}): void {
  const [hostname, port] = upstream.split(':');
  const headers = { ...req.headers, ...extraHeaders };
  const out = http.request({ hostname, port: Number(port), method: req.method, path: req.url, headers }, (up) => {
    seen.status = up.statusCode ?? 0;
    if (fault?.kind === 'trickle') {
      const { 'content-length': length, ...rest } = up.headers;
      res.writeHead(up.statusCode ?? 502, fault.dropLength ? rest : { ...rest, 'content-length': length });
      // Headers at once: only the body is slow.
      res.flushHeaders();
      return trickle(up, res, fault.bytesPerSecond);
    }
    res.writeHead(up.statusCode ?? 502, up.headers);
    let sent = 0;
    up.on('data', (chunk: Buffer) => {
      if (fault?.kind === 'drop' && sent + chunk.length > fault.afterBytes) {
        res.write(chunk.subarray(0, Math.max(0, fault.afterBytes - sent)), () => res.socket?.destroy());
        up.destroy();
        return;
      }
      if (fault?.kind === 'corrupt') {
        chunk = Buffer.from(chunk);
        for (let i = 0; i < chunk.length; i += 97) chunk[i] = chunk[i]! ^ 0xff;
      }
      sent += chunk.length;
      res.write(chunk);
    });
    up.on('end', () => res.end());
    up.on('error', () => res.destroy());
  });
  out.on('error', () => res.destroy());
  req.pipe(out);
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** `storageAuth`: the Authorization the storage host adds on its own when forwarding (it is not the client's). */
export async function startFaultProxy(upstream: string, opts: { storageAuth?: string } = {}): Promise<FaultProxy> {
  const rules: FaultRule[] = [];
  const seen: SeenRequest[] = [];
  const record = (req: http.IncomingMessage, at: SeenRequest['at'], fault?: Fault['kind']): SeenRequest => {
    const entry: SeenRequest = { method: req.method ?? '', path: req.url ?? '', status: 0, range: req.headers.range, authorization: req.headers.authorization, fault, at };
    seen.push(entry);
    return entry;
  };
  const storage = http.createServer((req, res) => {
    const entry = record(req, 'storage');
    forward(upstream, req, res, entry, undefined, opts.storageAuth ? { authorization: opts.storageAuth } : {});
  });
  const storageHost = await listen(storage);
  let proxyHost = '';
  const proxy = http.createServer((req, res) => {
    if (req.url?.startsWith('/token')) {
      record(req, 'proxy').status = 200;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"token":"never-good-enough","expires_in":300}');
      return;
    }
    const rule = rules.find((r) => r.times > 0 && (!r.method || r.method === req.method) && r.path.test(req.url ?? ''));
    if (rule) rule.times--;
    const fault = rule?.fault;
    const entry = record(req, 'proxy', fault?.kind);
    if (fault?.kind === 'status') {
      entry.status = fault.status;
      req.resume();
      res.writeHead(fault.status, { 'Content-Type': 'application/json', ...fault.headers }).end('{"errors":[{"code":"INJECTED","message":"fault injected by test proxy"}]}');
      return;
    }
    if (fault?.kind === 'silent') return void req.resume();
    if (fault?.kind === 'redirect-loop') {
      entry.status = 302;
      req.resume();
      res.writeHead(302, { Location: req.url?.includes('?loop') ? req.url.replace(/\?loop$/, '') : `${req.url}?loop` }).end();
      return;
    }
    if (fault?.kind === 'token-loop') {
      entry.status = 401;
      req.resume();
      res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': `Bearer realm="http://${proxyHost}/token",service="fault-proxy"` });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"token loop injected by test proxy"}]}');
      return;
    }
    if (fault?.kind === 'redirect') {
      entry.status = 307;
      req.resume();
      res.writeHead(307, { Location: `http://${storageHost}${req.url}` }).end();
      return;
    }
    forward(upstream, req, res, entry, fault);
  });
  const host = await listen(proxy);
  proxyHost = host;
  const close = (server: http.Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { host, storageHost, rules, seen, stop: async () => void (await Promise.all([close(proxy), close(storage)])) };
}
