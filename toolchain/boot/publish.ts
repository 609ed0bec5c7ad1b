/**
 * `-p/--publish [IP:]HOST:GUEST[/tcp|udp]` → QEMU user-network host forwards.
 *
 * Unlike Docker (0.0.0.0), the default bind address is 127.0.0.1: a dev VM's
 * ports should not appear on the network by accident. `-p 0.0.0.0:8080:80`
 * publishes on every interface, as Docker does.
 *
 * The host port is checked before boot: QEMU only notices a taken port after
 * the VM is half started, with a message that names no flag.
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { BadInputError, HyperbuildError, ExitCode } from '../errors/errors.ts';

export interface PortPublish {
  protocol: 'tcp' | 'udp';
  hostIp: string;
  hostPort: number;
  guestPort: number;
}

export const DEFAULT_PUBLISH_IP = '127.0.0.1';

function port(text: string, spec: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new BadInputError(`--publish '${spec}': '${text}' is not a port (1-65535)`, {
      hint: 'use -p HOST:GUEST, e.g. -p 8080:80 or -p 127.0.0.1:5353:53/udp',
    });
  }
  return Number(text);
}

export function parsePublish(spec: string): PortPublish {
  let rest = spec;
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1);
    if (p !== 'tcp' && p !== 'udp') {
      throw new BadInputError(`--publish '${spec}': protocol must be tcp or udp, not '${p}'`);
    }
    protocol = p;
    rest = rest.slice(0, slash);
  }
  const parts = rest.split(':');
  let hostIp = DEFAULT_PUBLISH_IP;
  if (parts.length === 3) {
    hostIp = parts[0];
    if (isIP(hostIp) !== 4) {
      throw new BadInputError(`--publish '${spec}': '${hostIp}' is not an IPv4 address (QEMU user networking forwards IPv4 only)`);
    }
  } else if (parts.length !== 2) {
    throw new BadInputError(`--publish '${spec}': expected [IP:]HOST:GUEST[/tcp|udp]`, {
      hint: 'e.g. -p 8080:80; a random host port (-p 80) is not supported',
    });
  }
  return { protocol, hostIp, hostPort: port(parts[parts.length - 2], spec), guestPort: port(parts[parts.length - 1], spec) };
}

/** Resolves when the host address:port can be bound, else throws a clear error. */
export async function assertPortFree(p: PortPublish): Promise<void> {
  const failure = (err: NodeJS.ErrnoException) => new HyperbuildError(
    `--publish ${p.hostIp}:${p.hostPort}:${p.guestPort}/${p.protocol}: host port ${p.hostPort}/${p.protocol} on ${p.hostIp} is not available (${err.code ?? err.message})`,
    { hint: err.code === 'EADDRINUSE' ? 'another process uses it; pick another host port' : 'pick another host port or address', exitCode: ExitCode.vmFailure, cause: err },
  );
  if (p.protocol === 'tcp') {
    await new Promise<void>((resolve, reject) => {
      const server = createServer();
      server.once('error', (err) => reject(failure(err)));
      server.listen({ host: p.hostIp, port: p.hostPort, exclusive: true }, () => server.close(() => resolve()));
    });
  } else {
    await new Promise<void>((resolve, reject) => {
      const sock = createSocket('udp4');
      sock.once('error', (err) => { sock.close(); reject(failure(err)); });
      sock.bind({ address: p.hostIp, port: p.hostPort, exclusive: true }, () => sock.close(() => resolve()));
    });
  }
}

export function assertNoDuplicateHostPorts(list: PortPublish[]): void {
  const seen = new Set<string>();
  for (const p of list) {
    const key = `${p.protocol}:${p.hostPort}`;
    if (seen.has(key)) throw new BadInputError(`--publish: host port ${p.hostPort}/${p.protocol} is given twice`);
    seen.add(key);
  }
}
