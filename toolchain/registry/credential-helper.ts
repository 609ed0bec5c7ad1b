/**
 * The docker-credential-helpers protocol: `docker-credential-<name> get|store|erase`
 * with the request on stdin and JSON on stdout. Used for `credsStore` and
 * `credHelpers` in ~/.docker/config.json (pass, secretservice, ecr-login, ...).
 */
import { spawn } from 'node:child_process';
import { HyperbuildError } from '../errors/errors.ts';

export interface HelperCredentials {
  Username: string;
  Secret: string;
}

function run(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) =>
      reject(new HyperbuildError(`cannot run credential helper docker-credential-${helper}: ${err.message}`, { hint: `install docker-credential-${helper} or remove it from your Docker config`, cause: err })),
    );
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** undefined when the helper has nothing for this server. */
export async function helperGet(helper: string, serverUrl: string): Promise<HelperCredentials | undefined> {
  const { code, stdout, stderr } = await run(helper, 'get', serverUrl);
  if (code !== 0) {
    // The protocol's "no credentials" answer; anything else is a real failure.
    if (/credentials not found/i.test(stdout + stderr)) return undefined;
    throw new HyperbuildError(`credential helper docker-credential-${helper} failed for ${serverUrl}: ${(stdout + stderr).trim().slice(0, 300)}`);
  }
  const parsed = JSON.parse(stdout) as Partial<HelperCredentials>;
  if (typeof parsed.Username !== 'string' || typeof parsed.Secret !== 'string') {
    throw new HyperbuildError(`credential helper docker-credential-${helper} returned malformed credentials for ${serverUrl}`);
  }
  return { Username: parsed.Username, Secret: parsed.Secret };
}

export async function helperStore(helper: string, serverUrl: string, creds: HelperCredentials): Promise<void> {
  const { code, stdout, stderr } = await run(helper, 'store', JSON.stringify({ ServerURL: serverUrl, ...creds }));
  if (code !== 0) throw new HyperbuildError(`credential helper docker-credential-${helper} could not store credentials: ${(stdout + stderr).trim().slice(0, 300)}`);
}

export async function helperErase(helper: string, serverUrl: string): Promise<void> {
  const { code, stdout, stderr } = await run(helper, 'erase', serverUrl);
  if (code !== 0 && !/credentials not found/i.test(stdout + stderr)) {
    throw new HyperbuildError(`credential helper docker-credential-${helper} could not erase credentials: ${(stdout + stderr).trim().slice(0, 300)}`);
  }
}
