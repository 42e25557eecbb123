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

const MEMBER = '333333333301';
let sim: AwsSimulator;
let restore: () => void;
let integration: Integration;
let aws: AwsRuntime;
const logs = captureLog('warn');

beforeAll(async () => {
  // Long enough that the fixed schedule (250 ms, then 500 ms, …) needs two reads.
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
  // One after the other, so each operation can learn from the ones before it.
  for (const req of reqs) expect(await runGrant(deps, job(req))).toMatchObject({ state: 'granted', preExisting: false });
  for (const req of reqs) expect(await runRevoke(deps, { ...job(req), origin: 'job' })).toMatchObject({ state: 'revoked' });
  expect(calls('CreateAccountAssignment')).toBe(5);
  expect(calls('DeleteAccountAssignment')).toBe(5);
  // The first operation of each verb learns (two reads); the next four need one each, give or take one.
  expect(calls('DescribeAccountAssignmentCreationStatus')).toBeLessThanOrEqual(7);
  expect(calls('DescribeAccountAssignmentDeletionStatus')).toBeLessThanOrEqual(7);
});
