/**
 * The seeded fuzz run CI does (tests/fuzz/): 320 cases — mutated layer tars
 * with their digests fixed, blobs, manifests, configs, indexes, oci-layout,
 * docker and OCI archives, ACIs, a fault-injecting registry — each a real
 * `hyperbuild build` (bin/hyperbuild, so `make cli` first) that must keep
 * the contract: exit code per the README table, one error line plus a
 * specific hint, no stack trace, no partial output, within the time bound;
 * and no file named with the marker anywhere on the host afterwards. The
 * valid control images must build (exit 0), so the run can fail if the
 * harness never reaches the parsers. `make fuzz` runs a long random one.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCampaign } from './fuzz/campaign.ts';

const SEED = 20261201;
const CASES = 320;

test(`seeded fuzz run: ${CASES} cases keep the contract`, async () => {
  const result = await runCampaign({ seed: SEED, cases: CASES });
  process.stdout.write(`${result.summary}\n`);
  assert.is(result.results.length, CASES);
  const controls = result.results.filter((r) => r.family === 'control');
  assert.ok(controls.length > 0 && controls.every((r) => r.status === 0), 'the valid control images build');
  const families = new Set(result.results.map((r) => r.family));
  for (const f of ['layer', 'blob', 'manifest', 'config', 'index', 'oci-layout', 'docker-archive', 'oci-archive', 'aci', 'registry']) assert.ok(families.has(f), `the run covers ${f}`);
  assert.equal(result.escapes, [], 'no file named with the marker outside the output and cache');
  assert.is(result.failures.length, 0, result.summary);
});

test.run();
