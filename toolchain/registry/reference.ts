/**
 * An image reference split the way Docker splits it, so `nginx`,
 * `docker.io/library/nginx:latest` and `index.docker.io/nginx` name the same
 * thing (and share credentials and cached tokens).
 */
import { BadInputError } from '../errors/errors.ts';
import { parseDigest } from '../digest/digest.ts';

export interface Reference {
  /** Registry as the user names it: `docker.io`, `localhost:5000`, `[::1]:5000`. */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';
/** Docker Hub's API host differs from its name. */
export const DOCKER_HUB_ENDPOINT = 'registry-1.docker.io';

// From distribution/reference: path components, tags and domains.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*';
const PATH_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DOMAIN_RE = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;
const MAX_NAME = 255;

function bad(input: string, why: string): BadInputError {
  return new BadInputError(`invalid image reference '${input.slice(0, 300)}': ${why}`, {
    hint: 'write REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. registry.example.com/team/api:1.4 or nginx',
  });
}

export function parseReference(input: string): Reference {
  if (input.length === 0) throw bad(input, 'it is empty');
  if (/\s/.test(input)) throw bad(input, 'it contains whitespace');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest);
    } catch {
      throw bad(input, `'${digest.slice(0, 80)}' is not a digest (sha256:<64 hex digits>)`);
    }
  }
  let tag: string | undefined;
  // A colon after the last slash is a tag; before it, a registry port.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw bad(input, `'${tag.slice(0, 80)}' is not a valid tag`);
  }
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first !== first.toLowerCase()) {
      registry = first;
      repository = rest.slice(slash + 1);
      if (!DOMAIN_RE.test(registry)) throw bad(input, `'${registry}' is not a valid registry host`);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (!PATH_RE.test(repository)) throw bad(input, `'${repository.slice(0, 200)}' is not a valid repository name (lowercase letters, digits, separators . _ __ -, and /)`);
  if (registry.length + 1 + repository.length > MAX_NAME) throw bad(input, `the name is longer than ${MAX_NAME} characters`);
  if (!tag && !digest) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** Canonical text form; the digest wins over the tag when both are present. */
export function formatReference(ref: Reference): string {
  const name = `${ref.registry}/${ref.repository}`;
  return ref.digest ? `${name}${ref.tag ? `:${ref.tag}` : ''}@${ref.digest}` : `${name}:${ref.tag ?? 'latest'}`;
}

/** The tag or digest to ask the registry for. */
export function manifestReference(ref: Reference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** host[:port] the HTTP API lives at. */
export function registryEndpoint(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_ENDPOINT : registry;
}

/** Loopback registries get plain HTTP when they do not speak TLS, as with Docker. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
