// The first operations of a process have nothing learned about how long Identity Center
// takes. One of them (the probe) reads on a fine schedule; the others started meanwhile
// wait for what it learns and then read once, instead of each probing on its own. This
// file runs in a fresh module registry, so nothing is learned when it starts.
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant } from '../../src/access/run-access.js';
import type { AwsRuntime } from '../../src/aws/runtime.js';
import { integrationSchema } from '../../src/protocol/messages.js';
import { startAwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { testAccessDeps } from '../helpers/access-deps.js';

const MEMBER = '333333333301';
const logs = captureLog('warn');

test('operations started together before anything is learned are read about once each, after one probe', async () => {
  const sim = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: 600 } });
  const undo = useAwsEnv(sim.env);
  const runtimes: AwsRuntime[] = [];
  try {
    const deps = testAccessDeps({ runtimes, log: logs.log, now: Date.now, config: { ssoMaxOutstandingAssignments: 10 } });
    const integration = integrationSchema.parse(demoIntegration());
    const sso = sim.world.sso!;
    const users = [...sso.users.values()].slice(0, 8);
    const ps = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!.arn;
    const calls = (op: string) => sim.stats.snapshot().byOperation[`sso-admin:${op}`]?.calls ?? 0;
    const reqs = users.map((u, i) => accessParamsSchema.parse({ grantId: `g-probe-${i}`, accessKind: 'sso.accountAssignment', principal: { type: 'user', id: u.UserId, userName: u.UserName }, target: { accountId: MEMBER, permissionSetArn: ps } }));
    const job = (req: (typeof reqs)[number]) => ({ jobId: `job-${req.grantId}`, integration, request: req, signal: new AbortController().signal, log: logs.log });
    const granted = await Promise.all(reqs.map((r) => runGrant(deps, job(r))));
    expect(granted.map((g) => g.state)).toEqual(reqs.map(() => 'granted'));
    for (const r of reqs) expect(sim.admin.hasAssignment({ accountId: MEMBER, permissionSetArn: ps, principalType: 'USER', principalId: r.principal.id })).toBe(true);
    expect(calls('CreateAccountAssignment')).toBe(8);
    // The probe reads up to four times (250, 375, 563, 844 ms); the seven others once each,
    // give or take one. Each probing on its own, the eight would need 3 or 4 reads apiece.
    const reads = calls('DescribeAccountAssignmentCreationStatus') + calls('ListAccountAssignmentCreationStatus');
    expect(reads).toBeLessThanOrEqual(4 + 7 + 1);
    expect(reads).toBeGreaterThanOrEqual(8);
  } finally {
    for (const r of runtimes) r.destroy();
    undo();
    await sim.close();
  }
});
