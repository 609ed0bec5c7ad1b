/**
 * Listing a repository's tags, page by page.
 */
import { BadInputError } from '../errors/errors.ts';
import { pullScope } from './auth.ts';
import type { RegistryClient } from './client.ts';
import { readSmallBody } from './registry-error.ts';

/** `GET /v2/<name>/tags/list`, following `Link: <...>; rel="next"` pages. */
const MAX_PAGES = 1000;

export async function listTags(client: RegistryClient, repository: string): Promise<string[]> {
  const tags: string[] = [];
  let path: string | URL = `/v2/${repository}/tags/list`;
  for (let page = 0; page < MAX_PAGES; page++) {
    const what = `listing tags of ${client.registry}/${repository}`;
    const res = await client.expect(await client.send({ method: 'GET', path, scopes: [pullScope(repository)], what }), [200], what);
    const link = res.headers.link;
    const body = await readSmallBody(res, 4 * 1024 * 1024);
    let parsed: { tags?: unknown };
    try {
      parsed = JSON.parse(body) as { tags?: unknown };
    } catch {
      throw new BadInputError(`${what}: the answer is not JSON`);
    }
    if (Array.isArray(parsed.tags)) tags.push(...parsed.tags.filter((t): t is string => typeof t === 'string'));
    const next = typeof link === 'string' ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
    if (!next) return tags;
    path = new URL(next, res.url);
  }
  return tags;
}
