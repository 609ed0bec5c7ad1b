/**
 * `-v/--volume HOST:GUEST[:ro|:rw]` → a virtio-9p share. Each volume gets the
 * mount tag `hbvN`; HyperStart mounts it at GUEST (PROTOCOL.md `volume`).
 * The host path must exist: silently creating it (Docker's habit) hides typos.
 */
import { statSync } from 'node:fs';
import { resolve, isAbsolute } from 'node:path';
import { BadInputError } from '../errors/errors.ts';

export interface VolumeMount {
  tag: string;
  hostPath: string;
  guestPath: string;
  readOnly: boolean;
}

export function parseVolume(spec: string, index: number, cwd: string = process.cwd()): VolumeMount {
  const parts = spec.split(':');
  let readOnly = false;
  if (parts.length === 3) {
    if (parts[2] !== 'ro' && parts[2] !== 'rw') {
      throw new BadInputError(`--volume '${spec}': mode must be ro or rw, not '${parts[2]}'`);
    }
    readOnly = parts[2] === 'ro';
    parts.pop();
  }
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new BadInputError(`--volume '${spec}': expected HOST:GUEST[:ro]`, { hint: 'e.g. -v ./data:/data or -v /etc/hosts:/mnt/hosts:ro' });
  }
  const [host, guest] = parts;
  if (!isAbsolute(guest) || guest.split('/').includes('..')) {
    throw new BadInputError(`--volume '${spec}': guest path '${guest}' must be absolute without '..'`);
  }
  if (guest === '/' || guest === '/.hyperstart' || guest.startsWith('/.hyperstart/')) {
    throw new BadInputError(`--volume '${spec}': cannot mount over '${guest}'`);
  }
  const hostPath = resolve(cwd, host);
  let isDir = false;
  try {
    isDir = statSync(hostPath).isDirectory();
  } catch {
    throw new BadInputError(`--volume '${spec}': host path ${hostPath} does not exist`, { hint: 'create it first (hyperbuild does not create volume paths)' });
  }
  if (!isDir) {
    throw new BadInputError(`--volume '${spec}': host path ${hostPath} is not a directory (virtio-9p shares directories)`);
  }
  return { tag: `hbv${index}`, hostPath, guestPath: guest, readOnly };
}
