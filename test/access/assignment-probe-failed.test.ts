// A probe (assignment-probe.test.ts) whose operation fails must release the operations
// waiting for it at once, and what they then see must not be learned. This file runs in a
// fresh module registry, so nothing is learned when its one test starts.
import { statusReadState } from '../../src/access/identity-center.js';
import { captureLog } from '../helpers/log.js';
import { MEMBER, readOnlyGrants, useAssignmentSimulator } from '../helpers/assignment-grants.js';

const logs = captureLog('warn');
// Operations of 100 ms, and the probe's own fails after 1.5 s: the probe finds it failed at
// its read of about 1.9 s, long after the seven it releases have finished. (With one length
// for all, 400 ms, a loaded CI machine sent the seven so late that all were still running
// when released, and the test saw none of the case it is about.)
const env = useAssignmentSimulator(100);
const PROBE_FAILS_AFTER_MS = 1_500;

/**
 * Eight grants, the first alone and the other seven once the simulator has taken its
 * create: that first create is the one failNextAssignments fails, and its operation is the
 * first to wait for a status, so it is the probe the seven wait for.
 */
async function probeThenSeven() {
  const sim = env.sim();
  const batch = readOnlyGrants(sim, env.runtimes, logs.log, MEMBER);
  const first = batch.run(0);
  const creates = () => sim.stats.snapshot().byOperation['sso-admin:CreateAccountAssignment']?.calls ?? 0;
  // Sequencing, not timing: poll until the simulator has taken the first create.
  while (creates() < 1) await new Promise((r) => setTimeout(r, 5));
  const results = await Promise.all([first, ...Array.from({ length: batch.size - 1 }, (_, i) => batch.run(i + 1))]);
  return { results, held: batch.held() };
}
const learnedCreateMs = () => Object.entries(statusReadState().learnedMs).find(([k]) => k.startsWith('create|'))?.[1];

test('a probe whose operation fails lets the others go on at once, and nothing is learned from their waiting', async () => {
  env.sim().admin.failNextAssignments({ count: 1, reason: 'injected for the probe test', afterMs: PROBE_FAILS_AFTER_MS });
  const { results, held } = await probeThenSeven();
  expect(results).toHaveLength(8);
  // The probe's grant is the one that failed.
  expect(results[0]).toMatchObject({ code: 'ACCESS_FAILED' });
  expect(results.slice(1).map((r) => (r as { state?: string }).state)).toEqual(Array(7).fill('granted'));
  expect(held).toEqual([false, true, true, true, true, true, true, true]);
  // Released when the probe failed, not by the 10 s cap on waiting for it.
  expect(statusReadState()).toMatchObject({ probes: 0, probeWaitsTimedOut: 0 });
  // The seven were released after the probe's last read (about 1.9 s), when their own
  // operations (100 ms) were done: found done at their first read and never seen running,
  // they teach nothing, since their time includes the wait for the probe (it would teach
  // 1.9 s or more here, and 10 s after a probe that ran out of time). One seen running (its
  // create sent more than 1.8 s late on a loaded machine) may teach what it saw, which is
  // its operation's length: at most 1.3 times 100 ms and the round trips, floored at 250 ms.
  const state = statusReadState();
  expect(state.waitedNotLearned).toBeGreaterThanOrEqual(1);
  expect(state.waitedNotLearned).toBeLessThanOrEqual(7);
  const learned = learnedCreateMs();
  if (learned !== undefined) expect(learned).toBeLessThan(PROBE_FAILS_AFTER_MS);
});
