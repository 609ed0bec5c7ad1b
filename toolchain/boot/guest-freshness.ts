/**
 * What makes a guest's clock and random numbers its own (PROTOCOL.md "Clock
 * and entropy"): the host's wall-clock time and fresh bytes from the host's
 * CSPRNG, taken at the moment the runtime spec is sent — so a VM cloned from
 * a template gets them as surely as a cold boot, and the time is not as old
 * as the boot. HyperStart sets the clock and seeds the kernel RNG from them
 * before the app starts.
 */
import { randomBytes } from 'node:crypto';
import type { HyperStartSpec } from '../hyperstart/protocol.ts';

/** 512 bits: twice what the kernel needs to call its CRNG initialised. */
export const GUEST_ENTROPY_BYTES = 64;

/** The host's wall-clock time in nanoseconds since the epoch, to the millisecond (Date.now follows clock adjustments). */
export function hostRealtimeNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

export function guestFreshness(
  now: () => bigint = hostRealtimeNs,
  random: (n: number) => Buffer = randomBytes,
): Required<Pick<HyperStartSpec, 'realtimeNs' | 'entropy'>> {
  return { realtimeNs: now(), entropy: random(GUEST_ENTROPY_BYTES) };
}
