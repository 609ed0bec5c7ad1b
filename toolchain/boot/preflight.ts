/**
 * Everything `boot` decides before a VM exists, in one place: the bundle's
 * protocol version, the request against the backend's and the kernel's
 * capabilities, the runtime spec, the accelerator, the host ports and the guest
 * memory. Every refusal happens here, so a bad request costs no boot.
 */
import type { BundleManifest } from '../bundle/manifest.ts';
import { ExitCode, HyperbuildError } from '../errors/errors.ts';
import { HYPERSTART_VERSION, type HyperStartSpec } from '../hyperstart/protocol.ts';
import type { Accel, AccelRequest } from './accel.ts';
import { assertSupported, guestNetwork } from './capabilities.ts';
import type { Hypervisor } from './hypervisor.ts';
import { defaultMemoryMiB } from './memory.ts';
import { assertNoDuplicateHostPorts, assertPortFree, type PortPublish } from './publish.ts';
import { buildRuntimeSpec, type RuntimeOverrides } from './runtime-spec.ts';

export interface BootRequest {
  hypervisor: Hypervisor;
  accel: AccelRequest;
  memoryMiB?: number;
  publish: PortPublish[];
  overrides: RuntimeOverrides;
}

export interface Preflight {
  spec: HyperStartSpec;
  accel: Accel;
  memoryMiB: number;
}

function assertProtocol(manifest: BundleManifest): void {
  if (manifest.hyperstart?.version && manifest.hyperstart.version !== HYPERSTART_VERSION) {
    throw new HyperbuildError(`bundle has HyperStart protocol ${manifest.hyperstart.version}, this hyperbuild speaks ${HYPERSTART_VERSION}`, {
      hint: 'rebuild the bundle with this hyperbuild', exitCode: ExitCode.usage,
    });
  }
}

/** Throws the first refusal (HyperbuildError); `say` gets one-line notices (the TCG fallback). */
export async function preflight(manifest: BundleManifest, r: BootRequest, say: (line: string) => void): Promise<Preflight> {
  const hv = r.hypervisor;
  assertSupported(hv, manifest, {
    accel: r.accel, network: r.overrides.network, publishes: r.publish.length > 0, volumes: r.overrides.volumes.length > 0,
  });
  const spec = buildRuntimeSpec(manifest.image, r.overrides, guestNetwork(hv.capabilities, r.overrides.network));
  assertProtocol(manifest);
  const decision = hv.chooseAccel(r.accel);
  if (decision.notice) say(decision.notice);
  assertNoDuplicateHostPorts(r.publish);
  for (const p of r.publish) await assertPortFree(p);
  return { spec, accel: decision.accel, memoryMiB: r.memoryMiB ?? defaultMemoryMiB(manifest.initramfs) };
}
