// Races between jobs, replicas and the sweeper, with real kinds against the simulator. The
// interleavings are forced with the simulator's gates (a call waits until the test lets it
// through) and faults, and controllable clocks, never by sleeping: an extension landing
// between the sweeper's scan and its lock, a holder whose lease renewals fail, the sweeper's
// wake-up on a new expiry. And the refusals that keep the ledger true: an expiry already
// past, an Identity Store id in another case.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ledger, type LedgerOptions } from '../../src/access/ledger.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant, runRevoke, type AccessDeps } from '../../src/access/run-access.js';
import { Sweeper, sweepOnce } from '../../src/access/sweeper.js';
import type { AccessRequest } from '../../src/access/types.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import { declaredActions } from '../../src/permissions.js';
import type { Config } from '../../src/config.js';
import { integrationSchema, type Integration } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { testConfig } from '../helpers/config.js';

const TABLE = 'access-connector-ledger';

describe('races between jobs, replicas and the sweeper', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let integration: Integration;
  let clock = Date.parse('2026-11-23T12:00:00Z');
  const runtimes: AwsRuntime[] = [];
  const logs = captureLog('debug');

  /** A fresh "process" (replica): its own AWS runtime and ledger client, on the test's clock. */
  function deps(over: Partial<LedgerOptions> = {}): AccessDeps {
    const aws = new AwsRuntime({ declaredActions: declaredActions(), connectorId: 'conn-test', log: logs.log, quotaShare: 1 });
    runtimes.push(aws);
    const client = aws.clients.get(DynamoDBClient, { region: 'us-east-1', accountId: 'self', credentials: aws.broker('us-east-1').base() });
    const ledger = new Ledger({ client, table: TABLE, owner: `replica-${runtimes.length}`, now: () => clock, ...over });
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
  const op = (name: string) => sim.stats.snapshot().byOperation[name] ?? { calls: 0, errors: 0 };
  const tick = () => new Promise((r) => setTimeout(r, 5));
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

  test('a holder whose lease renewals fail for most of a TTL stops before its next change to AWS', async () => {
    // Guards against: renewal failures swallowed and the work going on after another replica may have taken the lease over.
    let mono = 0;
    const d = deps({ monotonic: () => mono, renewEveryMs: 5 });
    const req = request('g-fence', '333333333302', clock + 3_600_000);
    const creates0 = op('sso-admin:CreateAccountAssignment').calls;
    const inside = sim.faults.gate({ service: 'dynamodb', operation: 'GetItem', match: 'access#' });
    const running = runGrant(d, job(d, req));
    await inside.reached;
    sim.faults.serverErrors({ service: 'dynamodb', operation: 'UpdateItem' });
    const failed0 = op('dynamodb:UpdateItem').errors;
    while (op('dynamodb:UpdateItem').errors === failed0) await tick();
    // A whole TTL on the holder's own clock without one renewal getting through.
    mono += 120_000;
    inside.release();
    await expect(running).rejects.toMatchObject({ code: 'LEDGER_LEASE_LOST' });
    expect(op('sso-admin:CreateAccountAssignment').calls).toBe(creates0);
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
    expect((await d.ledger!.getGrant('g-fence'))!.state).toBe('failed');

    // The same wait with renewals getting through: the lease holds and the grant goes on.
    sim.faults.clear();
    const again = sim.faults.gate({ service: 'dynamodb', operation: 'GetItem', match: 'access#' });
    const retry = runGrant(d, job(d, req));
    await again.reached;
    // Time moves in steps of 10 s, each seeing renewals land (a renewal counts from when it
    // was sent, so one sent before a step never stands in for one sent after it).
    for (let t = 0; t < 120_000; t += 10_000) {
      mono += 10_000;
      const renewed0 = op('dynamodb:UpdateItem').calls;
      while (op('dynamodb:UpdateItem').calls < renewed0 + 2) await tick();
    }
    again.release();
    await expect(retry).resolves.toMatchObject({ state: 'granted' });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(true);
  });

  test('a grant whose expiresAt has already passed is refused JOB_PARAMS_INVALID before any AWS call or ledger write', async () => {
    // Guards against: a grant expired on arrival creating access (and, for some kinds, writing a deadline in the past into AWS).
    const d = deps();
    const calls0 = sim.stats.snapshot().total.calls;
    await expect(runGrant(d, job(d, request('g-past', '333333333303', clock - 5 * 60_000)))).rejects.toMatchObject({ code: 'JOB_PARAMS_INVALID' });
    expect(sim.stats.snapshot().total.calls).toBe(calls0);
    // Within the clock skew allowed between control plane and connector, it is granted.
    const near = request('g-near', '333333333303', clock - 10_000);
    await expect(runGrant(d, job(d, near))).resolves.toMatchObject({ state: 'granted' });
    await runRevoke(d, { ...job(d, near), origin: 'job' });
  });

  test('an Identity Store id in capitals is the same principal: an assignment already there stays pre-existing', async () => {
    // Guards against: an upper-case id missing the existing assignment, so the ledger called it the connector's and revoke removed it.
    const d = deps();
    const id = userId('frank');
    const req = accessParamsSchema.parse({
      grantId: 'g-case', accessKind: 'sso.accountAssignment', principal: { type: 'user', id: id.toUpperCase() },
      target: { accountId: '333333333303', permissionSetArn: psArn('Billing') },
    });
    const a = { accountId: '333333333303', permissionSetArn: psArn('Billing'), principalType: 'USER' as const, principalId: id };
    sim.admin.addAssignment(a);
    await expect(runGrant(d, job(d, req))).resolves.toMatchObject({ state: 'granted', preExisting: true });
    await runRevoke(d, { ...job(d, req), origin: 'job' });
    expect(sim.admin.hasAssignment(a)).toBe(true);
    expect(req.principal.id).toBe(id);
    sim.admin.removeAssignment(a);
  });

  test('a grant recorded in this replica wakes its sweeper at its expiry, not at the next interval', async () => {
    // Guards against: the next wake computed only from what the last pass read, so a grant expiring before the next pass was revoked up to an interval late.
    const d = deps();
    // The sweeper's timer, fired by the test after moving the clock.
    const armed: Array<{ fn: () => void; ms: number; live: boolean }> = [];
    const live = () => armed.filter((a) => a.live);
    const fire = async () => {
      const [a] = live();
      a!.live = false;
      const before = armed.length;
      a!.fn();
      while (armed.length === before) await tick(); // the pass is over when it arms the next one
    };
    const sweeper = new Sweeper(d, logs.log, 60_000, { schedule: (fn, ms) => { const a = { fn, ms, live: true }; armed.push(a); return () => { a.live = false; }; } });
    sweeper.start();
    await fire();
    expect(live().map((a) => a.ms)).toEqual([60_000]);
    const req = request('g-wake', '333333333305', clock + 2_000);
    await runGrant(d, job(d, req));
    expect(live().map((a) => a.ms)).toEqual([2_000]);
    clock += 2_000;
    await fire();
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
    expect((await d.ledger!.getGrant('g-wake'))!.state).toBe('revoked');
    await sweeper.stop();
    expect(live()).toEqual([]);
  });
});
