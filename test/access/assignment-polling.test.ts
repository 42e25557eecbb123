// Identity Center assignment operations are asynchronous: the connector reads their status
// until AWS reports them done. Each status read spends the instance's shared 20 TPS, so the
// process learns how long operations take and reads first when one is likely done.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ledger } from '../../src/access/ledger.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant, runRevoke, type AccessDeps } from '../../src/access/run-access.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import type { Config } from '../../src/config.js';
import { declaredActions } from '../../src/permissions.js';
import { integrationSchema, type Integration } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { testConfig } from '../helpers/config.js';
import { MEMBER, readOnlyGrants } from '../helpers/assignment-grants.js';

let sim: AwsSimulator;
let restore: () => void;
let integration: Integration;
let aws: AwsRuntime;
const logs = captureLog('warn');

beforeAll(async () => {
  // Long enough that the first operation, with nothing learned, needs several reads (250, 375, 563 ms, …).
  sim = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: 600 } });
  restore = useAwsEnv(sim.env);
  integration = integrationSchema.parse(demoIntegration());
  aws = new AwsRuntime({ declaredActions: declaredActions(), connectorId: 'conn-test', log: logs.log, quotaShare: 1 });
});
afterAll(async () => {
  aws.destroy();
  restore();
  await sim.close();
});

test('after the first operation, an assignment is read about once until done, for creates and deletes alike', async () => {
  const client = aws.clients.get(DynamoDBClient, { region: 'us-east-1', accountId: 'self', credentials: aws.broker('us-east-1').base() });
  const deps: AccessDeps = { aws, ledger: new Ledger({ client, table: 'access-connector-ledger', owner: 'polling' }), config: { ...testConfig(), ssoMaxOutstandingAssignments: 10 } as Config, log: logs.log };
  const sso = sim.world.sso!;
  const users = [...sso.users.values()].slice(0, 5);
  const ps = [...sso.permissionSets.values()].find((p) => p.name === 'ReadOnly')!.arn;
  const calls = (op: string) => sim.stats.snapshot().byOperation[`sso-admin:${op}`]?.calls ?? 0;
  const reqs = users.map((u, i) => accessParamsSchema.parse({ grantId: `g-poll-${i}`, accessKind: 'sso.accountAssignment', principal: { type: 'user', id: u.UserId, userName: u.UserName }, target: { accountId: MEMBER, permissionSetArn: ps } }));
  const job = (req: (typeof reqs)[number]) => ({ jobId: `job-${req.grantId}`, integration, request: req, signal: new AbortController().signal, log: logs.log });
  const describes = () => calls('DescribeAccountAssignmentCreationStatus') + calls('DescribeAccountAssignmentDeletionStatus');
  // One after the other, so each operation can learn from the ones before it. The first of
  // each verb learns on the fine schedule (reads at about 250, 375, 563 and 844 ms for
  // 600 ms operations); each of the next four is read once, give or take three for the whole
  // verb (a read delayed on a loaded machine can make the first learn too short a wait,
  // which the next reads raise again). Without learning, each would be read 3 or 4 times.
  const perVerb: number[] = [];
  for (const [i, req] of reqs.entries()) {
    const before = describes();
    expect(await runGrant(deps, job(req))).toMatchObject({ state: 'granted', preExisting: false });
    if (i === 0) perVerb.push(describes() - before);
  }
  perVerb.push(calls('DescribeAccountAssignmentCreationStatus') - perVerb[0]!);
  for (const [i, req] of reqs.entries()) {
    const before = describes();
    expect(await runRevoke(deps, { ...job(req), origin: 'job' })).toMatchObject({ state: 'revoked' });
    if (i === 0) perVerb.push(describes() - before);
  }
  perVerb.push(calls('DescribeAccountAssignmentDeletionStatus') - perVerb[2]!);
  expect(calls('CreateAccountAssignment')).toBe(5);
  expect(calls('DeleteAccountAssignment')).toBe(5);
  const [firstCreate, laterCreates, firstDelete, laterDeletes] = perVerb;
  expect(firstCreate).toBeGreaterThanOrEqual(1);
  expect(firstCreate).toBeLessThanOrEqual(5);
  expect(laterCreates).toBeLessThanOrEqual(4 + 3);
  expect(firstDelete).toBeGreaterThanOrEqual(1);
  expect(firstDelete).toBeLessThanOrEqual(5);
  expect(laterDeletes).toBeLessThanOrEqual(4 + 3);
});

test('operations that run long while others wait share one IN_PROGRESS list, and each is described only at its first read and at its end', async () => {
  // A second simulator whose operations take 3 s: each needs several reads after the first.
  const slow = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: 3000 } });
  const undo = useAwsEnv(slow.env);
  const runtimes: AwsRuntime[] = [];
  try {
    const calls = (op: string) => slow.stats.snapshot().byOperation[`sso-admin:${op}`]?.calls ?? 0;
    const batch = readOnlyGrants(slow, runtimes, logs.log, MEMBER);
    const granted = await Promise.all(Array.from({ length: batch.size }, (_, i) => batch.run(i)));
    expect(granted.map((g) => (g as { state?: string }).state)).toEqual(granted.map(() => 'granted'));
    expect(batch.held()).toEqual(granted.map(() => true));
    // Read one by one, 8 operations of 3 s would need about 5 Describes each (40). Here the
    // probe describes its own on its schedule (at most 8 reads in 3 s: 250, 375, … 2,848,
    // 4,272 ms), and each of the seven is described at its first read and at its end, the
    // reads between going to the shared list: 15 when the seven are released after their
    // operations ended, up to 8 + 2 × 7 = 22 when a late read of the probe's (a loaded
    // machine) makes it learn less and release them while theirs still run.
    expect(calls('DescribeAccountAssignmentCreationStatus')).toBeLessThanOrEqual(8 + 2 * (batch.size - 1));
    expect(calls('ListAccountAssignmentCreationStatus')).toBeGreaterThanOrEqual(1);
  } finally {
    for (const r of runtimes) r.destroy();
    undo();
    await slow.close();
  }
});
