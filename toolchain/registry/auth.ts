/**
 * Registry authorization: anonymous, Basic, or Bearer tokens from the realm
 * the registry names in its 401 (the Docker token protocol). Tokens are cached
 * per scope set until shortly before they expire, so a pull of many layers
 * asks the token server once.
 */
import { RegistryError } from '../errors/errors.ts';
import type { Credentials } from './docker-config.ts';
import { failResponse, readSmallBody } from './registry-error.ts';
import type { HttpTransport, RequestLimits } from './transport.ts';
import type { Challenge } from './www-authenticate.ts';
import { parseWwwAuthenticate } from './www-authenticate.ts';

interface CachedToken {
  header: string;
  expiresAt: number;
}

const TOKEN_HINT = 'the registry\'s token service is misconfigured or not the one it names; check the registry address, or report it to its operator';

/** Docker's token spec: tokens without expires_in last 60 s. */
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Refresh this early so a token does not expire mid-request. */
const EXPIRY_MARGIN_MS = 10_000;

export class Authenticator {
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  private credentialsPromise: Promise<Credentials | undefined> | undefined;

  constructor(
    private readonly registry: string,
    private readonly transport: HttpTransport,
    private readonly loadCredentials: () => Promise<Credentials | undefined>,
    /** Deadlines of one token request (the registry client's --registry-timeout). */
    private readonly limits: () => RequestLimits,
  ) {}

  /** Record how /v2/ asked us to authenticate (undefined: anonymous access works). */
  setChallenge(header: string | undefined): void {
    this.challenge = header ? pickChallenge(parseWwwAuthenticate(header)) : undefined;
  }

  get scheme(): string | undefined {
    return this.challenge?.scheme;
  }

  private credentials(): Promise<Credentials | undefined> {
    this.credentialsPromise ??= this.loadCredentials();
    return this.credentialsPromise;
  }

  /** The Authorization header for a request needing `scopes`, if any. */
  async header(scopes: string[]): Promise<string | undefined> {
    const challenge = this.challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      const creds = await this.credentials();
      return creds ? basicHeader(creds) : undefined;
    }
    if (challenge.scheme !== 'bearer') return undefined;
    const key = [...scopes].sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached) {
      const token = await cached;
      if (token.expiresAt > Date.now()) return token.header;
      if (this.tokens.get(key) === cached) this.tokens.delete(key);
      return this.header(scopes);
    }
    // Cache the request, not just its answer: parallel layer downloads share one token fetch.
    const pending = this.fetchToken(challenge, scopes);
    this.tokens.set(key, pending);
    pending.catch(() => {
      if (this.tokens.get(key) === pending) this.tokens.delete(key);
    });
    return (await pending).header;
  }

  /**
   * A request got 401: adopt the new challenge and drop cached tokens for
   * these scopes. Returns false when retrying cannot help.
   */
  renew(wwwAuthenticate: string | undefined, scopes: string[]): boolean {
    const before = this.challenge;
    if (wwwAuthenticate) this.setChallenge(wwwAuthenticate);
    this.tokens.delete([...scopes].sort().join(' '));
    // Basic with the same credentials will fail the same way; a fresh token may not.
    return this.challenge !== undefined && (this.challenge.scheme === 'bearer' || before === undefined);
  }

  private async fetchToken(challenge: Challenge, scopes: string[]): Promise<CachedToken> {
    const realm = challenge.params.realm;
    if (!realm) throw new RegistryError(`${this.registry} asked for a bearer token but named no realm to get it from`, { hint: TOKEN_HINT });
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`${this.registry} named an invalid token realm '${realm.slice(0, 200)}'`, { hint: TOKEN_HINT });
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const creds = await this.credentials();
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (creds) headers.Authorization = basicHeader(creds);
    const res = await this.transport.request({ method: 'GET', url, headers, limits: this.limits() });
    if (res.status !== 200) await failResponse(res, `getting a token for ${scopes.join(' ') || this.registry}`, this.registry);
    const body = await readSmallBody(res, 1024 * 1024, { rethrow: true });
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(body) as typeof parsed;
    } catch {
      throw new RegistryError(`the token server of ${this.registry} (${url.host}) answered with something that is not JSON`, { hint: TOKEN_HINT });
    }
    const token = typeof parsed.token === 'string' ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : undefined;
    if (!token) throw new RegistryError(`the token server of ${this.registry} (${url.host}) returned no token`, { hint: TOKEN_HINT });
    const lifetime = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    return { header: `Bearer ${token}`, expiresAt: Date.now() + Math.max(lifetime * 1000 - EXPIRY_MARGIN_MS, (lifetime * 1000) / 2) };
  }
}

function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
}

/** Prefer Bearer (scoped, short-lived) over Basic when a registry offers both. */
function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}

export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}
