// The grant/revoke runner with real kinds against the simulator: ledger bookkeeping,
// idempotency, pre-existing access, overlapping grants, a revoke that races its grant,
// policy facts, cancellation, and the sweeper (expiry with no control plane, a restart,
// two replicas, reconciliation).
import { generateKeyPairSync } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ledger } from '../../src/access/ledger.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant, runRevoke, type AccessDeps } from '../../src/access/run-access.js';
import { sweepOnce } from '../../src/access/sweeper.js';
import type { AccessRequest } from '../../src/access/types.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import { newAwsCallStats, runInAwsScope } from '../../src/aws/clients.js';
import { policySchema } from '../../src/policy/schema.js';
import type { Config } from '../../src/config.js';
import { ConnectorError, isAbortError } from '../../src/errors.js';
import { integrationSchema, type Integration } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { testConfig } from '../helpers/config.js';
import { declaredActions } from '../../src/permissions.js';

const TABLE = 'access-connector-ledger';
const MEMBER = '333333333301';

describe('grant/revoke runner', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let integration: Integration;
  let clock = Date.now();
  const runtimes: AwsRuntime[] = [];
  const logs = captureLog('debug');

  /** A fresh "process": its own AWS runtime and ledger client, as after a restart. */
  function deps(over: Partial<Config> = {}): AccessDeps {
    const aws = new AwsRuntime({ declaredActions: declaredActions(), connectorId: 'conn-test', log: logs.log, quotaShare: 1 });
    runtimes.push(aws);
    const client = aws.clients.get(DynamoDBClient, { region: 'us-east-1', accountId: 'self', credentials: aws.broker('us-east-1').base() });
    const ledger = new Ledger({ client, table: TABLE, owner: `test-${runtimes.length}`, now: () => clock });
    return { aws, ledger, config: { ...testConfig(), ssoMaxOutstandingAssignments: 10, ...over } as Config, log: logs.log, now: () => clock };
  }
  const sso = () => sim.world.sso!;
  const userId = (name: string) => [...sso().users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
  const psArn = (name: string) => [...sso().permissionSets.values()].find((p) => p.name === name)!.arn;
  function request(grantId: string, over: Partial<AccessRequest> = {}): AccessRequest {
    return accessParamsSchema.parse({
      grantId, accessKind: 'sso.accountAssignment',
      principal: { type: 'user', id: userId('erin'), userName: 'erin@example.com' },
      target: { accountId: MEMBER, permissionSetArn: psArn('ReadOnly') },
      ...over,
    });
  }
  const assignment = (req: AccessRequest) => ({
    accountId: String(req.target.accountId), permissionSetArn: String(req.target.permissionSetArn),
    principalType: req.principal.type === 'group' ? 'GROUP' as const : 'USER' as const, principalId: req.principal.id,
  });
  const creates = () => sim.stats.snapshot().byOperation['sso-admin:CreateAccountAssignment']?.calls ?? 0;
  const deletes = () => sim.stats.snapshot().byOperation['sso-admin:DeleteAccountAssignment']?.calls ?? 0;
  const job = (d: AccessDeps, req: AccessRequest, signal = new AbortController().signal) => ({ jobId: `job-${Math.random()}`, integration, request: req, signal, log: d.log });

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: 150 } });
    restore = useAwsEnv(sim.env);
    integration = integrationSchema.parse(demoIntegration({ ssoPortalUrl: 'https://d-1234567890.awsapps.com/start' }));
  });
  afterAll(async () => {
    for (const r of runtimes) r.destroy();
    restore();
    await sim.close();
  });

  test('grant records before it applies, reports granted only once AWS has it, and a retried job creates nothing twice', async () => {
    const d = deps();
    const req = request('g-basic');
    const before = creates();
    const out = await runGrant(d, job(d, req));
    expect(out).toMatchObject({ grantId: 'g-basic', state: 'granted', preExisting: false });
    expect(out.accessDetails.instructions.length).toBeGreaterThan(10);
    expect(sim.admin.hasAssignment(assignment(req))).toBe(true);
    const again = await runGrant(deps(), job(d, req)); // a new process, a new jobId, the same grantId
    expect(again).toMatchObject({ state: 'granted', note: 'already granted' });
    expect(creates() - before).toBe(1);
    const events = (await d.ledger!.history('g-basic')).map((e) => e.event);
    expect(events).toEqual(expect.arrayContaining(['recorded', 'granted']));
    expect(events.indexOf('recorded')).toBeLessThan(events.indexOf('granted'));

    const rev = await runRevoke(d, { ...job(d, req), origin: 'job' });
    expect(rev).toMatchObject({ state: 'revoked', preExisting: false });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
    const rev2 = await runRevoke(d, { ...job(d, req), origin: 'job' });
    expect(rev2).toMatchObject({ state: 'revoked', note: 'already revoked' });
  });

  test('pre-existing access is recorded as such and survives the revoke', async () => {
    const d = deps();
    // judy already has ReadOnly in 333333333301 (demo world).
    const req = request('g-pre', { principal: { type: 'user', id: userId('judy') } } as Partial<AccessRequest>);
    expect(sim.admin.hasAssignment(assignment(req))).toBe(true);
    const c0 = creates();
    const d0 = deletes();
    expect(await runGrant(d, job(d, req))).toMatchObject({ state: 'granted', preExisting: true });
    expect(await runRevoke(d, { ...job(d, req), origin: 'job' })).toMatchObject({ state: 'revoked', preExisting: true });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(true);
    expect([creates() - c0, deletes() - d0]).toEqual([0, 0]);
  });

  test('overlapping grants share the access: the first revoke keeps it for the second', async () => {
    const d = deps();
    const a = request('g-over-a', { target: { accountId: MEMBER, permissionSetArn: psArn('Developer') } } as Partial<AccessRequest>);
    const b = request('g-over-b', { target: { accountId: MEMBER, permissionSetArn: psArn('Developer') } } as Partial<AccessRequest>);
    await Promise.all([runGrant(d, job(d, a)), runGrant(deps(), job(d, b))]);
    expect(sim.admin.hasAssignment(assignment(a))).toBe(true);
    expect(await runRevoke(d, { ...job(d, a), origin: 'job' })).toMatchObject({ state: 'revoked', heldBy: 1 });
    expect(sim.admin.hasAssignment(assignment(a))).toBe(true);
    await runRevoke(d, { ...job(d, b), origin: 'job' });
    expect(sim.admin.hasAssignment(assignment(a))).toBe(false);
  });

  test('a revoke that arrives before its grant wins: the grant then ends revoked and AWS is untouched', async () => {
    const d = deps();
    const req = request('g-race', { target: { accountId: '333333333302', permissionSetArn: psArn('ReadOnly') } } as Partial<AccessRequest>);
    expect(await runRevoke(d, { ...job(d, req), origin: 'job' })).toMatchObject({ state: 'revoked' });
    const c0 = creates();
    expect(await runGrant(d, job(d, req))).toMatchObject({ state: 'revoked' });
    expect(creates()).toBe(c0);
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
  });

  test('a grant and its revoke racing each other end revoked, whatever the order', async () => {
    const d = deps();
    const req = request('g-race2', { target: { accountId: '333333333303', permissionSetArn: psArn('ReadOnly') } } as Partial<AccessRequest>);
    await Promise.allSettled([runGrant(d, job(d, req)), runRevoke(deps(), { ...job(d, req), origin: 'job' })]);
    // Whichever won the lock first, one more revoke (what a control plane does after a
    // race) leaves nothing behind, and the grant can never come back under this id.
    await runRevoke(d, { ...job(d, req), origin: 'job' });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
    expect(await runGrant(d, job(d, req))).toMatchObject({ state: 'revoked' });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
  });

  test('a grant id reused for other access is GRANT_CONFLICT', async () => {
    const d = deps();
    await runGrant(d, job(d, request('g-reuse')));
    const other = request('g-reuse', { target: { accountId: MEMBER, permissionSetArn: psArn('SecurityAudit') } } as Partial<AccessRequest>);
    await expect(runGrant(d, job(d, other))).rejects.toMatchObject({ code: 'GRANT_CONFLICT' });
    await runRevoke(d, { ...job(d, request('g-reuse')), origin: 'job' });
  });

  test('a policy rule that needs AWS facts fails the grant POLICY_DENIED before any write or ledger record', async () => {
    const policy = policySchema.parse({ version: 1, deniedManagedPolicies: ['arn:aws:iam::aws:policy/AdministratorAccess'] });
    const d = deps({ policy });
    const req = request('g-denied', { target: { accountId: MEMBER, permissionSetArn: psArn('AdministratorAccess') } } as Partial<AccessRequest>);
    const c0 = creates();
    const err = await runGrant(d, job(d, req)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err).toMatchObject({ code: 'POLICY_DENIED' });
    expect((err as Error).message).toContain('deniedManagedPolicies');
    expect(creates()).toBe(c0);
    expect(await d.ledger!.getGrant('g-denied')).toBeUndefined();
  });

  test('an account under an excluded OU is never granted to (ACCESS_REFUSED, nothing recorded)', async () => {
    const d = deps();
    const ou = sim.world.accounts.get('333333333302')!.parentId!;
    const req = request('g-excluded-ou', { target: { accountId: '333333333302', permissionSetArn: psArn('ReadOnly') } } as Partial<AccessRequest>);
    const c0 = creates();
    const err = await runGrant(d, { ...job(d, req), integration: { ...integration, excludeOrganizationalUnitIds: [ou] } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ACCESS_REFUSED' });
    expect((err as Error).message).toContain(ou);
    expect(creates()).toBe(c0);
    expect(await d.ledger!.getGrant('g-excluded-ou')).toBeUndefined();
  });

  test('cancelled before the change: AWS untouched, nothing recorded, a retry grants', async () => {
    const d = deps();
    const req = request('g-cancel', { target: { accountId: '333333333303', permissionSetArn: psArn('Developer') } } as Partial<AccessRequest>);
    const ac = new AbortController();
    ac.abort(new DOMException('cancelled', 'AbortError'));
    const c0 = creates();
    const err = await runInAwsScope({ signal: ac.signal }, () => runGrant(d, job(d, req, ac.signal))).catch((e: unknown) => e);
    // Regression: the SDK wraps the abort ("AWS SDK error wrapper for AbortError"), which
    // was reported as LEDGER_UNAVAILABLE instead of a cancellation.
    expect(isAbortError(err)).toBe(true);
    expect(creates()).toBe(c0);
    expect(await d.ledger!.getGrant('g-cancel')).toBeUndefined();
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
    expect(await runGrant(d, job(d, req))).toMatchObject({ state: 'granted' });
    await runRevoke(d, { ...job(d, req), origin: 'job' });
  });

  test('cancelled after the create call was sent: the grant finishes (never left half-done) and says granted', async () => {
    const d = deps();
    const req = request('g-cancel2', { target: { accountId: '333333333303', permissionSetArn: psArn('SecurityAudit') } } as Partial<AccessRequest>);
    const ac = new AbortController();
    const c0 = creates();
    // In the job's AWS scope, as the dispatcher runs it: the cancel aborts the job's AWS calls.
    // Regression: the ledger writes after the create were aborted, leaving `pending` while
    // the assignment existed.
    const running = runInAwsScope({ signal: ac.signal, stats: newAwsCallStats() }, () => runGrant(d, job(d, req, ac.signal)));
    // Abort as soon as the create call has reached AWS, while its status is IN_PROGRESS.
    while (creates() === c0) await new Promise((r) => setTimeout(r, 5));
    ac.abort(new DOMException('cancelled', 'AbortError'));
    await expect(running).resolves.toMatchObject({ state: 'granted' });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(true);
    expect((await d.ledger!.getGrant('g-cancel2'))!.state).toBe('granted');
    await runRevoke(d, { ...job(d, req), origin: 'job' });
  });

  test('a FAILED assignment fails the grant with AWS reason and the ledger holds nothing for it', async () => {
    const d = deps();
    const req = request('g-fail', { target: { accountId: '333333333302', permissionSetArn: psArn('Developer') } } as Partial<AccessRequest>);
    sim.admin.failNextAssignments({ reason: 'Injected: permission set is being provisioned' });
    await expect(runGrant(d, job(d, req))).rejects.toMatchObject({ code: 'ACCESS_FAILED' });
    expect((await d.ledger!.getGrant('g-fail'))!.state).toBe('failed');
    expect(await d.ledger!.getAccess((await d.ledger!.getGrant('g-fail'))!.accessKey)).toBeUndefined();
    // The retry (same grantId) succeeds.
    expect(await runGrant(d, job(d, req))).toMatchObject({ state: 'granted' });
    await runRevoke(d, { ...job(d, req), origin: 'job' });
  });

  test('the sweeper revokes what expired, from the ledger alone, after a restart, with two replicas at once', async () => {
    const d = deps();
    const reqs = ['333333333301', '333333333302', '333333333303'].map((acct, i) => request(`g-exp-${i}`, {
      target: { accountId: acct, permissionSetArn: psArn('Billing') }, expiresAt: new Date(clock + 60_000).toISOString(),
    } as Partial<AccessRequest>));
    const keep = request('g-exp-keep', { target: { accountId: MEMBER, permissionSetArn: psArn('Billing') }, principal: { type: 'user', id: userId('frank') }, expiresAt: new Date(clock + 7_200_000).toISOString() } as Partial<AccessRequest>);
    for (const r of [...reqs, keep]) await runGrant(d, job(d, r));
    expect(await sweepOnce(d, logs.log)).toMatchObject({ revoked: 0, failed: 0 });
    clock += 61_000;
    // Two fresh replicas (restarted processes, no control plane) sweep at the same time.
    const [r1, r2] = await Promise.all([sweepOnce(deps(), logs.log), sweepOnce(deps(), logs.log)]);
    expect(r1.failed + r2.failed).toBe(0);
    for (const r of reqs) expect(sim.admin.hasAssignment(assignment(r))).toBe(false);
    expect(sim.admin.hasAssignment(assignment(keep))).toBe(true);
    for (const r of reqs) expect((await d.ledger!.getGrant(r.grantId))!.state).toBe('revoked');
    const revokeEvents = (await Promise.all(reqs.map((r) => d.ledger!.history(r.grantId)))).flat().filter((e) => e.event.startsWith('revoked:'));
    expect(revokeEvents.map((e) => e.event)).toEqual(['revoked:expiry', 'revoked:expiry', 'revoked:expiry']);
    await runRevoke(d, { ...job(d, keep), origin: 'job' });
  });

  test('enableAudit: the revoke lists the CloudTrail events of the grant\'s user in its account and window', async () => {
    const d = deps();
    const req = request('g-audit', { target: { accountId: '333333333303', permissionSetArn: psArn('ReadOnly') } } as Partial<AccessRequest>);
    const audited = { ...integration, enableAudit: true };
    await runGrant(d, { ...job(d, req), integration: audited });
    sim.admin.addTrailEvent({ accountId: '333333333303', eventName: 'GetObject', eventSource: 's3.amazonaws.com', username: 'erin@example.com', eventTime: clock + 1000 });
    sim.admin.addTrailEvent({ accountId: '333333333303', eventName: 'DeleteBucket', eventSource: 's3.amazonaws.com', username: 'mallory@example.com', eventTime: clock + 1000 });
    clock += 5000;
    const out = await runRevoke(d, { ...job(d, req), integration: audited, origin: 'job' });
    expect(out.audit?.events.map((e) => e.eventName)).toEqual(['GetObject']);
  });

  test('credentialRotationDays: an ec2.localUser grant without expiresAt gets a deadline of grantedAt + N days, never moved by a re-sent grant', async () => {
    const d = deps();
    const web1 = [...sim.world.accounts.get(MEMBER)!.ssm.get('us-east-1')!.instances.values()].find((i) => i.name === 'web-1')!.id;
    const { publicKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const len = (b: Buffer) => { const n = Buffer.alloc(4); n.writeUInt32BE(b.length); return Buffer.concat([n, b]); };
    const key = `ssh-ed25519 ${Buffer.concat([len(Buffer.from('ssh-ed25519')), len(Buffer.from(raw))]).toString('base64')}`;
    const req = accessParamsSchema.parse({
      grantId: 'g-rotate', accessKind: 'ec2.localUser', principal: { type: 'user', id: userId('erin'), userName: 'erin@example.com' },
      target: { accountId: MEMBER, region: 'us-east-1', instanceIds: [web1], sshPublicKey: key },
    });
    const rotating = { ...integration, credentialRotationDays: 2 };
    const grantedAt = clock;
    await runGrant(d, { ...job(d, req), integration: rotating });
    expect((await d.ledger!.getGrant('g-rotate'))!.expiresAt).toBe(new Date(grantedAt + 2 * 86_400_000).toISOString());
    clock += 86_400_000;
    await runGrant(d, { ...job(d, req), integration: rotating });
    expect((await d.ledger!.getGrant('g-rotate'))!.expiresAt).toBe(new Date(grantedAt + 2 * 86_400_000).toISOString());
    clock += 86_400_001;
    expect((await sweepOnce(d, logs.log)).failed).toBe(0);
    expect((await d.ledger!.getGrant('g-rotate'))!.state).toBe('revoked');
  });

  test('reconciliation reports access the connector created that no active grant explains', async () => {
    const d = deps();
    const req = request('g-orphan', { target: { accountId: '333333333302', permissionSetArn: psArn('SecurityAudit') } } as Partial<AccessRequest>);
    await runGrant(d, job(d, req));
    // Someone edits the ledger by hand and marks the grant revoked: AWS still has the access.
    const g = (await d.ledger!.getGrant('g-orphan'))!;
    await d.ledger!.updateGrant(g, { state: 'revoked' });
    const before = logs.lines.length;
    const r = await sweepOnce(d, logs.log);
    expect(r.orphans).toBeGreaterThanOrEqual(1);
    expect(logs.entries().slice(before).some((l) => l.event === 'ledger.orphan' && String(l.accessKey).includes(MEMBER) === false && String(l.accessKey).includes('333333333302'))).toBe(true);
  });
  test('a permission set is read once per process for the grants of the next minute, and again by a new process', async () => {
    const reads = () => sim.stats.snapshot().byOperation['sso-admin:DescribePermissionSet']?.calls ?? 0;
    const d = deps();
    const before = reads();
    for (const id of ['g-ps-1', 'g-ps-2', 'g-ps-3']) {
      expect(await runGrant(d, job(d, request(id)))).toMatchObject({ state: 'granted' });
    }
    expect(reads() - before).toBe(1);
    const fresh = deps();
    expect(await runGrant(fresh, job(fresh, request('g-ps-4')))).toMatchObject({ state: 'granted' });
    expect(reads() - before).toBe(2);
    for (const id of ['g-ps-1', 'g-ps-2', 'g-ps-3', 'g-ps-4']) await runRevoke(fresh, { ...job(fresh, request(id)), origin: 'job' });
  });
});
