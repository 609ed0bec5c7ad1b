/**
 * Image references, skopeo-style: `TRANSPORT:DETAILS`. A reference without a
 * known transport is a registry reference (`docker://` may be spelled out).
 */
import { BadInputError } from '../errors/errors.ts';

export type ImageReference =
  | { transport: 'oci'; path: string; tag?: string; digest?: string; text: string }
  | { transport: 'oci-archive'; path: string; tag?: string; text: string }
  | { transport: 'docker-archive'; path: string; ref?: string; text: string }
  | { transport: 'aci'; path: string; text: string }
  | { transport: 'registry'; ref: string; text: string };

/** Split `PATH[:SUFFIX]` where PATH may itself contain colons: the suffix never has a '/'. */
function splitSuffix(details: string): { path: string; suffix?: string } {
  const at = details.lastIndexOf(':');
  if (at > 0 && !details.slice(at + 1).includes('/')) return { path: details.slice(0, at), suffix: details.slice(at + 1) };
  return { path: details };
}

export function parseImageReference(text: string): ImageReference {
  const fail = (why: string): never => {
    throw new BadInputError(`invalid image reference '${text}': ${why}`, {
      hint: 'use oci:DIR[:TAG|@DIGEST], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], aci:FILE or a registry reference like registry.example.com/repo:tag',
    });
  };
  const m = /^([a-z-]+):(.*)$/.exec(text);
  const transport = m?.[1];
  const details = m?.[2] ?? '';
  switch (transport) {
    case 'oci': {
      const at = details.indexOf('@');
      if (at >= 0) {
        const path = details.slice(0, at);
        if (!path) fail('missing directory');
        return { transport, path, digest: details.slice(at + 1), text };
      }
      const { path, suffix } = splitSuffix(details);
      if (!path) fail('missing directory');
      return { transport, path, tag: suffix || undefined, text };
    }
    case 'oci-archive': {
      const { path, suffix } = splitSuffix(details);
      if (!path) fail('missing archive path');
      return { transport, path, tag: suffix || undefined, text };
    }
    case 'docker-archive': {
      // The optional REF is `name:tag`, so split after the archive file name instead.
      const archiveEnd = details.search(/\.tar(\.gz)?(?=:|$)/);
      const cut = archiveEnd >= 0 ? details.indexOf(':', archiveEnd) : -1;
      const path = cut >= 0 ? details.slice(0, cut) : details;
      if (!path) fail('missing archive path');
      return { transport, path, ref: cut >= 0 ? details.slice(cut + 1) || undefined : undefined, text };
    }
    case 'aci':
      if (!details) fail('missing ACI file');
      return { transport, path: details, text };
    case 'docker':
      if (!details.startsWith('//')) fail('expected docker://REGISTRY/REPO[:TAG]');
      return { transport: 'registry', ref: details.slice(2), text };
    default:
      // `localhost:5000/x` parses as transport `localhost`; anything not a transport is a registry ref.
      if (!text || /\s/.test(text)) fail('empty or contains whitespace');
      return { transport: 'registry', ref: text, text };
  }
}
