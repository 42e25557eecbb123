// The first operations of a process have nothing learned about how long Identity Center
// takes. One of them (the probe) reads on a fine schedule; the others started meanwhile
// wait for what it learns and then read once, instead of each probing on its own. This
// file runs in a fresh module registry, so nothing is learned when its one test starts
// (assignment-probe-failed.test.ts: a probe that fails).
import { statusReadState } from '../../src/access/identity-center.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant } from '../../src/access/run-access.js';
import type { AwsRuntime } from '../../src/aws/runtime.js';
import { integrationSchema } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { testAccessDeps } from '../helpers/access-deps.js';

const MEMBER = '333333333301';
const logs = captureLog('warn');
let sim: AwsSimulator;
let undo: () => void;
const runtimes: AwsRuntime[] = [];

// A simulator of its own for each test: nothing one test left running reaches the other.
beforeEach(async () => {
  // Operations of 1.5 s: the probe's reads (about 250, 375, 563, 844, 1266, 1898 ms) leave
  // each a margin of a couple of hundred milliseconds on a loaded machine.
  sim = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: 1500 } });
  undo = useAwsEnv(sim.env);
});
afterEach(async () => {
  for (const r of runtimes.splice(0)) r.destroy();
  undo();
  await sim.close();
});

/** Eight grants of ReadOnly in the account to distinct users, none held before, started together. */
async function eightGrants(account: string) {
  const deps = testAccessDeps({ runtimes, log: logs.log, now: Date.now, config: { ssoMaxOutstandingAssignments: 10 } });
  const integration = integrationSchema.parse(demoIntegration());
  const sso = sim.world.sso!;
  const users = [...sso.users.values()].slice(0, 8);
  const ps = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!.arn;
  const reqs = users.map((u, i) => accessParamsSchema.parse({ grantId: `g-probe-${account}-${i}`, accessKind: 'sso.accountAssignment', principal: { type: 'user', id: u.UserId, userName: u.UserName }, target: { accountId: account, permissionSetArn: ps } }));
  const job = (req: (typeof reqs)[number]) => ({ jobId: `job-${req.grantId}`, integration, request: req, signal: new AbortController().signal, log: logs.log });
  const results = await Promise.all(reqs.map((r) => runGrant(deps, job(r)).then((g) => g, (err: unknown) => err)));
  const held = reqs.map((r) => sim.admin.hasAssignment({ accountId: account, permissionSetArn: ps, principalType: 'USER', principalId: r.principal.id }));
  return { results, held };
}
const calls = (op: string) => sim.stats.snapshot().byOperation[`sso-admin:${op}`]?.calls ?? 0;
const reads = () => calls('DescribeAccountAssignmentCreationStatus') + calls('ListAccountAssignmentCreationStatus');
const learnedCreateMs = () => Object.entries(statusReadState().learnedMs).find(([k]) => k.startsWith('create|'))?.[1];

test('operations started together before anything is learned are read about once each, after one probe', async () => {
  expect(learnedCreateMs()).toBeUndefined();
  const before = reads();
  const { results, held } = await eightGrants(MEMBER);
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
