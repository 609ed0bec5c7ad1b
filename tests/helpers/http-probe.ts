/**
 * Reaching a guest's HTTP server through a published port: a free host port,
 * one GET, and the handler the -p tests share — once the app prints its
 * "serving" line, fetch (retrying while the forward comes up), then SIGTERM
 * the hyperbuild process so the test also sees the signal reach the app.
 */
import { createServer } from 'node:net';
import { request } from 'node:http';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

export function httpGet(port: number, path = '/index.html'): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** An onStdout handler for a boot: after `marker` appears, GET the page (up to 20 tries), then SIGTERM hyperbuild. */
export function fetchThenTerminate(port: number, marker = 'serving'): { onStdout: (s: string, pid: number) => void; fetched: () => string } {
  let fetched = '';
  let fetching = false;
  return {
    fetched: () => fetched,
    onStdout: (s, pid) => {
      if (fetching || !s.includes(marker)) return;
      fetching = true;
      void (async () => {
        for (let i = 0; i < 20 && !fetched; i++) {
          try { fetched = await httpGet(port); } catch { await new Promise((res) => setTimeout(res, 250)); }
        }
        process.kill(pid, 'SIGTERM');
      })();
    },
  };
}
