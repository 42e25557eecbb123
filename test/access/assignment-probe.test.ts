// The first operations of a process have nothing learned about how long Identity Center
// takes. One of them (the probe) reads on a fine schedule; the others started meanwhile
// wait for what it learns and then read once, instead of each probing on its own. This
// file runs in a fresh module registry, so nothing is learned when its one test starts
// (assignment-probe-failed.test.ts: a probe that fails).
import { statusReadState } from '../../src/access/identity-center.js';
import { captureLog } from '../helpers/log.js';
import { MEMBER, readOnlyGrants, useAssignmentSimulator } from '../helpers/assignment-grants.js';

const logs = captureLog('warn');
// Operations an hour long, finished by moving the simulator's clock once the probe has seen
// its own running three times: when the operations end is the test's choice, not the
// machine's speed (with real lengths, one late read of the probe's on a loaded machine made
// it learn less and release the seven while theirs still ran).
const HOUR_MS = 3_600_000;
const env = useAssignmentSimulator(HOUR_MS);

const calls = (op: string) => env.sim().stats.snapshot().byOperation[`sso-admin:${op}`]?.calls ?? 0;
const reads = () => calls('DescribeAccountAssignmentCreationStatus') + calls('ListAccountAssignmentCreationStatus');
const learnedCreateMs = () => Object.entries(statusReadState().learnedMs).find(([k]) => k.startsWith('create|'))?.[1];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('operations started together before anything is learned are read about once each, after one probe', async () => {
  expect(learnedCreateMs()).toBeUndefined();
  const before = reads();
  const t0 = Date.now();
  const batch = readOnlyGrants(env.sim(), env.runtimes, logs.log, MEMBER);
  const all = Promise.all(Array.from({ length: batch.size }, (_, i) => batch.run(i)));
  // Sequencing, not timing: the eight created, and the probe's first three reads (about 250,
  // 625 and 1,188 ms after its create) answered IN_PROGRESS. The seven others wait for it.
  while (calls('CreateAccountAssignment') < batch.size || reads() - before < 3) await sleep(10);
  const atAdvance = reads() - before;
  const advancedAfterMs = Date.now() - t0;
  env.sim().admin.advanceClock({ ms: HOUR_MS + 1 });
  const results = await all;
  expect(results.map((r) => r as { state?: string; preExisting?: boolean })).toEqual(results.map(() => expect.objectContaining({ state: 'granted', preExisting: false })));
  expect(results).toHaveLength(8);
  expect(batch.held().every(Boolean)).toBe(true);
  // The probe read until the clock moved, then once more (one more if a read was in flight
  // then); the seven others once each. Each probing on its own, the eight read 20 and 22
  // times in two runs with the probe turned off (operations of 1.5 s).
  const made = reads() - before;
  expect(atAdvance).toBeGreaterThanOrEqual(3);
  expect(made).toBeGreaterThanOrEqual(atAdvance + 1 + 7);
  expect(made).toBeLessThanOrEqual(atAdvance + 2 + 7);
  expect(statusReadState()).toMatchObject({ probes: 0, probeWaitsTimedOut: 0 });
  // Learned from what the probe saw: running until at most the moment the clock moved.
  expect(learnedCreateMs()).toBeGreaterThanOrEqual(250);
  expect(learnedCreateMs()).toBeLessThanOrEqual(1.3 * advancedAfterMs);
});
