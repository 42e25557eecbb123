// The sweeper against the simulator, with interleavings forced by the simulator's gates
// (a call waits until the test lets it through) and a controllable clock: an extension that
// lands between the sweeper's scan and its lock, and the wake-up on a new expiry.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ledger } from '../../src/access/ledger.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant, type AccessDeps } from '../../src/access/run-access.js';
import { sweepOnce } from '../../src/access/sweeper.js';
import type { AccessRequest } from '../../src/access/types.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import type { Config } from '../../src/config.js';
import { integrationSchema, type Integration } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { testConfig } from '../helpers/config.js';

const TABLE = 'access-connector-ledger';

describe('sweeper', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let integration: Integration;
  let clock = Date.parse('2026-11-23T12:00:00Z');
  const runtimes: AwsRuntime[] = [];
  const logs = captureLog('debug');

  /** A fresh "process" (replica): its own AWS runtime and ledger client, on the test's clock. */
  function deps(): AccessDeps {
    const aws = new AwsRuntime({ connectorId: 'conn-test', log: logs.log, quotaShare: 1 });
    runtimes.push(aws);
    const client = aws.clients.get(DynamoDBClient, { region: 'us-east-1', accountId: 'self', credentials: aws.broker('us-east-1').base() });
    const ledger = new Ledger({ client, table: TABLE, owner: `sweep-${runtimes.length}`, now: () => clock });
    return { aws, ledger, config: { ...testConfig(), ssoMaxOutstandingAssignments: 10 } as Config, log: logs.log, now: () => clock };
  }
  const sso = () => sim.world.sso!;
  const userId = (name: string) => [...sso().users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
  const psArn = (name: string) => [...sso().permissionSets.values()].find((p) => p.name === name)!.arn;
  function request(grantId: string, accountId: string, expiresAt: number): AccessRequest {
    return accessParamsSchema.parse({
      grantId, accessKind: 'sso.accountAssignment',
      principal: { type: 'user', id: userId('erin'), userName: 'erin@example.com' },
      target: { accountId, permissionSetArn: psArn('ReadOnly') },
      expiresAt: new Date(expiresAt).toISOString(),
    });
  }
  const assignment = (req: AccessRequest) => ({
    accountId: String(req.target.accountId), permissionSetArn: String(req.target.permissionSetArn), principalType: 'USER' as const, principalId: req.principal.id,
  });
  const job = (d: AccessDeps, req: AccessRequest) => ({ jobId: `job-${Math.random()}`, integration, request: req, signal: new AbortController().signal, log: d.log });

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: 50 } });
    restore = useAwsEnv(sim.env);
    integration = integrationSchema.parse(demoIntegration({ ssoPortalUrl: 'https://d-1234567890.awsapps.com/start' }));
  });
  afterEach(() => sim.faults.clear());
  afterAll(async () => {
    for (const r of runtimes) r.destroy();
    restore();
    await sim.close();
  });

  test('an extension written between the sweeper\'s scan and its lock is not undone', async () => {
    // Guards against: the sweeper revoking, from what its scan read, a grant extended just before it took the lock.
    const d = deps();
    const req = request('g-ext', '333333333304', clock + 60_000);
    await runGrant(d, job(d, req));
    clock += 61_000;
    // The extension takes the lock and stops at its first read of the access record.
    const extensionInside = sim.faults.gate({ service: 'dynamodb', operation: 'GetItem', match: 'access#' });
    const extended = request('g-ext', '333333333304', clock + 3_600_000);
    const extension = runGrant(d, job(d, extended));
    await extensionInside.reached;
    // The sweeper (another replica) scans now, sees the old expiry, and asks for the lock.
    const sweeperAtLock = sim.faults.gate({ service: 'dynamodb', operation: 'PutItem', match: 'lock#' });
    const sweep = sweepOnce(deps(), logs.log);
    await sweeperAtLock.reached;
    extensionInside.release();
    await expect(extension).resolves.toMatchObject({ state: 'granted' });
    sweeperAtLock.release();
    const r = await sweep;
    expect(r).toMatchObject({ revoked: 0, failed: 0 });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(true);
    expect(await d.ledger!.getGrant('g-ext')).toMatchObject({ state: 'granted', expiresAt: extended.expiresAt });
    // Once the extension is up, the next pass revokes it.
    clock += 3_600_001;
    expect(await sweepOnce(deps(), logs.log)).toMatchObject({ revoked: 1, failed: 0 });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
  });
});
