// The first operations of a process have nothing learned about how long Identity Center
// takes. One of them (the probe) reads on a fine schedule; the others started meanwhile
// wait for what it learns and then read once, instead of each probing on its own. This
// file runs in a fresh module registry, so nothing is learned when its one test starts
// (assignment-probe-failed.test.ts: a probe that fails).
import { statusReadState } from '../../src/access/identity-center.js';
import { captureLog } from '../helpers/log.js';
import { MEMBER, readOnlyGrants, useAssignmentSimulator } from '../helpers/assignment-grants.js';

const logs = captureLog('warn');
// Operations of 1.5 s: the probe's reads (about 250, 375, 563, 844, 1266, 1898 ms) leave
// each a margin of a couple of hundred milliseconds on a loaded machine.
const env = useAssignmentSimulator(1500);

const calls = (op: string) => env.sim().stats.snapshot().byOperation[`sso-admin:${op}`]?.calls ?? 0;
const reads = () => calls('DescribeAccountAssignmentCreationStatus') + calls('ListAccountAssignmentCreationStatus');
const learnedCreateMs = () => Object.entries(statusReadState().learnedMs).find(([k]) => k.startsWith('create|'))?.[1];

test('operations started together before anything is learned are read about once each, after one probe', async () => {
  expect(learnedCreateMs()).toBeUndefined();
  const before = reads();
  const batch = readOnlyGrants(env.sim(), env.runtimes, logs.log, MEMBER);
  const results = await Promise.all(Array.from({ length: batch.size }, (_, i) => batch.run(i)));
  const held = batch.held();
  expect(results.map((r) => r as { state?: string; preExisting?: boolean })).toEqual(results.map(() => expect.objectContaining({ state: 'granted', preExisting: false })));
  expect(results).toHaveLength(8);
  expect(held.every(Boolean)).toBe(true);
  // The probe reads up to six times; the seven others once each, give or take three on a
  // loaded machine (13 in all here). Each probing on its own, the eight read 20 and 22 times
  // in two runs with the probe turned off.
  const made = reads() - before;
  expect(made).toBeGreaterThanOrEqual(8);
  expect(made).toBeLessThanOrEqual(6 + 7 + 3);
  expect(statusReadState()).toMatchObject({ probes: 0, probeWaitsTimedOut: 0 });
  expect(learnedCreateMs()).toBeGreaterThan(0);
  expect(learnedCreateMs()).toBeLessThan(3_000);
});
