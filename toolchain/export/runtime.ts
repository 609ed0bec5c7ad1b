/**
 * The guest side of an export: the network HyperStart configures and the
 * runtime spec baked into the initrd. The spec follows `hyperbuild boot`
 * exactly (boot/runtime-spec.ts: docker run semantics for --entrypoint,
 * `-- ARGS`, env files then -e, -w, -u); only the network and the absence of
 * a terminal and volumes differ, since no hyperbuild is there at run time.
 */
import { isIP } from 'node:net';
import type { ImageRuntimeConfig } from '../bundle/manifest.ts';
import type { OpenedBundle } from '../bundle/open-bundle.ts';
import { QEMU_USER_NETWORK } from '../boot/backends/qemu.ts';
import type { PortPublish } from '../boot/publish.ts';
import { buildRuntimeSpec, type RuntimeOverrides } from '../boot/runtime-spec.ts';
import { BadInputError } from '../errors/errors.ts';
import type { HyperStartSpec, NetworkSpec } from '../hyperstart/protocol.ts';
import type { ExportNetwork } from './plan.ts';
import { exportSpec, readBundleSpec, specSegment } from './spec-segment.ts';
import type { ExportNetworkMode } from './targets.ts';

/**
 * KubeVirt masquerade binding: the guest is the second address of the default
 * vmNetworkCIDR 10.0.2.0/24, the gateway the first (KubeVirt's network
 * defaults, api.DefaultVMCIDR). The cluster DNS is not known here: none is set.
 */
export const KUBEVIRT_POD_NETWORK: NetworkSpec = { mode: 'static', address: '10.0.2.2/24', gateway: '10.0.2.1' };
/** A tap's guest side when none is given: Firecracker's getting-started network (host 172.16.0.1). */
export const DEFAULT_TAP_GUEST = '172.16.0.2/30';
export const DEFAULT_TAP_GATEWAY = '172.16.0.1';

export interface NetworkRequest {
  publish: PortPublish[];
  tap?: string;
  guestAddress?: string;
  gateway?: string;
  dns: string[];
}

function checkIpv4(text: string, flag: string): void {
  if (isIP(text) !== 4) throw new BadInputError(`${flag} '${text}' is not an IPv4 address`, { hint: `e.g. ${flag} ${DEFAULT_TAP_GATEWAY}` });
}

function tapGuest(r: NetworkRequest): NetworkSpec {
  const address = r.guestAddress ?? DEFAULT_TAP_GUEST;
  const [ip, prefix, extra] = address.split('/');
  if (extra !== undefined || prefix === undefined || !/^\d{1,2}$/.test(prefix) || Number(prefix) > 32 || isIP(ip) !== 4) {
    throw new BadInputError(`--guest-address '${address}' is not ADDRESS/PREFIX`, { hint: `e.g. --guest-address ${DEFAULT_TAP_GUEST}` });
  }
  const gateway = r.gateway ?? DEFAULT_TAP_GATEWAY;
  checkIpv4(gateway, '--gateway');
  return { mode: 'static', address, gateway, dns: r.dns };
}

/** The network of an export, for a mode checkExportRequest accepted. */
export function exportNetwork(mode: ExportNetworkMode, r: NetworkRequest): ExportNetwork {
  r.dns.forEach((d) => checkIpv4(d, '--dns'));
  if (mode !== 'tap' && (r.tap || r.guestAddress || r.gateway)) {
    throw new BadInputError(`--tap, --guest-address and --gateway need --network tap (this export uses --network ${mode})`, { hint: 'add --network tap, or drop them' });
  }
  switch (mode) {
    case 'user':
      if (r.dns.length) throw new BadInputError('--dns: the user network has its own DNS server (10.0.2.3)', { hint: 'drop --dns' });
      return { mode, guest: QEMU_USER_NETWORK, publish: r.publish };
    case 'none':
      if (r.dns.length) throw new BadInputError('--dns needs a network; this export uses --network none', { hint: 'drop --dns' });
      return { mode, guest: { mode: 'none' }, publish: [] };
    case 'pod':
      return { mode, guest: { ...KUBEVIRT_POD_NETWORK, dns: r.dns }, publish: [] };
    case 'tap':
      if (!r.tap) throw new BadInputError('--network tap needs --tap NAME (a tap device you created on the host)', { hint: 'e.g. --tap tap0' });
      return { mode, guest: tapGuest(r), publish: [], tap: r.tap };
  }
}

/** Runtime-spec overrides, as `boot` takes them (already parsed and resolved), without what only a live VM has (a terminal, volumes). */
export type SpecRequest = Omit<RuntimeOverrides, 'tty' | 'network' | 'volumes'>;

export function exportRuntimeSpec(image: ImageRuntimeConfig, s: SpecRequest, network: NetworkSpec): HyperStartSpec {
  return buildRuntimeSpec(image, { ...s, tty: false, network: network.mode === 'none' ? 'none' : 'user', volumes: [] }, network);
}

/** The bytes to append to the bundle's initramfs so the guest runs `spec` on `guest` (spec-segment.ts). */
export async function runtimeSegment(opened: OpenedBundle, spec: SpecRequest, guest: NetworkSpec): Promise<Buffer> {
  const m = opened.manifest;
  const initramfs = opened.files.find((f) => f.role === 'initramfs')!;
  const fileSpec = await readBundleSpec(initramfs.path, m.initramfs.compression);
  const runtime = exportRuntimeSpec(m.image, spec, guest);
  return specSegment(exportSpec(fileSpec, runtime, initramfs.path), initramfs.size, m.sourceDateEpoch ?? 0);
}
