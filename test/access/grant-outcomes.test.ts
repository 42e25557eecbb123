// The grant path when AWS or the ledger does not answer as hoped, each interleaving forced
// with the simulator's fault injection and clocks: a failure after the change was sent
// (the grant stays pending and holds the access; AWS finishing later is the grant's own
// change, never pre-existing access), a revoke job naming other access than the ledger
// records, a grant arriving for a half-done revoke, and a job that gives up waiting for
// the ledger lock.
import { accessParamsSchema } from '../../src/access/params.js';
import { kindOf } from '../../src/access/registry.js';
import { contextFor, runGrant, runRevoke, type AccessDeps } from '../../src/access/run-access.js';
import { sweepOnce } from '../../src/access/sweeper.js';
import type { AccessRequest } from '../../src/access/types.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import type { Config } from '../../src/config.js';
import { isAbortError } from '../../src/errors.js';
import { revokeJob } from '../../src/jobs/revoke.js';
import { policySchema } from '../../src/policy/schema.js';
import { integrationSchema, type Integration } from '../../src/protocol/messages.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';
import { useAwsEnv } from '../helpers/aws.js';
import { captureLog } from '../helpers/log.js';
import { testAccessDeps } from '../helpers/access-deps.js';

/** An assignment operation stays IN_PROGRESS this long in simulator time: until the test moves the clock. */
const SLOW_MS = 600_000;
/** The time scale at which the same operation takes 60 ms (other tests' grants finish on their own). */
const FAST = SLOW_MS / 60;

describe('grant outcomes under faults', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let integration: Integration;
  let clock = Date.now();
  const runtimes: AwsRuntime[] = [];
  const logs = captureLog('debug');

  /** A fresh process. Two SDK attempts per call: a fault on every attempt is final soon. */
  function deps(over: Partial<Config> = {}, ledgerSleep?: (ms: number) => Promise<void>): AccessDeps {
    return testAccessDeps({
      runtimes, log: logs.log, now: () => clock, maxAttempts: 2, config: { ssoMaxOutstandingAssignments: 10, ...over },
      // The lock wait is measured on the monotonic clock: the test's clock stands for both.
      ledger: { monotonic: () => clock, ...(ledgerSleep && { sleep: ledgerSleep }) },
    });
  }
  const sso = () => sim.world.sso!;
  const userId = (name: string) => [...sso().users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
  const psArn = (name: string) => [...sso().permissionSets.values()].find((p) => p.name === name)!.arn;
  function request(grantId: string, accountId: string, ps: string, over: Record<string, unknown> = {}): AccessRequest {
    return accessParamsSchema.parse({
      grantId, accessKind: 'sso.accountAssignment',
      principal: { type: 'user', id: userId('erin'), userName: 'erin@example.com' },
      target: { accountId, permissionSetArn: psArn(ps) },
      ...over,
    });
  }
  const assignment = (req: AccessRequest) => ({
    accountId: String(req.target.accountId), permissionSetArn: String(req.target.permissionSetArn), principalType: 'USER' as const, principalId: req.principal.id,
  });
  const calls = (op: string) => sim.stats.snapshot().byOperation[op]?.calls ?? 0;
  const job = (d: AccessDeps, req: AccessRequest, signal = new AbortController().signal) => ({ jobId: `job-${Math.random()}`, integration, request: req, signal, log: d.log });
  /** Assignment operations take SLOW_MS of simulator time (true) or finish in 60 ms (false). */
  const slowAssignments = (slow: boolean) => sim.admin.setQuotas({ timeScale: slow ? 1 : FAST });

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', quotas: false, timeScale: FAST, sso: { assignmentDelayMs: SLOW_MS } });
    restore = useAwsEnv(sim.env);
    integration = integrationSchema.parse(demoIntegration({ ssoPortalUrl: 'https://d-1234567890.awsapps.com/start' }));
  });
  afterEach(() => {
    sim.faults.clear();
    slowAssignments(false);
  });
  afterAll(async () => {
    for (const r of runtimes) r.destroy();
    restore();
    await sim.close();
  });

  test('the status check fails after the create was sent: the grant stays pending and holds the access; AWS finishing later is the grant\'s own, and its revoke removes it', async () => {
    const d = deps();
    const req = request('g-sent-1', '333333333301', 'Developer');
    slowAssignments(true);
    sim.faults.serverErrors({ service: 'sso-admin', operation: 'DescribeAccountAssignmentCreationStatus' });
    const c0 = calls('sso-admin:CreateAccountAssignment');
    const err = await runGrant(d, job(d, req)).catch((e: unknown) => e);
    expect(calls('sso-admin:CreateAccountAssignment')).toBe(c0 + 1);
    const g = (await d.ledger!.getGrant('g-sent-1'))!;
    expect(g.state).toBe('pending');
    expect(g.changeSentAt).toBeDefined();
    expect((await d.ledger!.getAccess(g.accessKey))!.holders).toEqual(['g-sent-1']);
    expect(err).toMatchObject({ code: 'ACCESS_UNCONFIRMED', retryable: true });
    expect((await d.ledger!.history('g-sent-1')).map((e) => e.event)).toContain('unconfirmed');
    expect(logs.entries().some((l) => l.event === 'grant.unconfirmed' && l.grantId === 'g-sent-1')).toBe(true);

    // AWS finishes the operation after the connector stopped waiting.
    sim.faults.clear();
    slowAssignments(false);
    sim.admin.advanceClock({ ms: SLOW_MS + 1 });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(true);

    // The retry finds it in place and knows it is this grant's change: not pre-existing.
    expect(await runGrant(deps(), job(d, req))).toMatchObject({ state: 'granted', preExisting: false });
    expect(calls('sso-admin:CreateAccountAssignment')).toBe(c0 + 1);
    expect(await runRevoke(d, { ...job(d, req), origin: 'job' })).toMatchObject({ state: 'revoked', preExisting: false });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
  });

  test('a refusal on a retry does not release a grant whose earlier change may still be in flight', async () => {
    const d = deps();
    const req = request('g-sent-4', '333333333303', 'Billing');
    slowAssignments(true);
    sim.faults.serverErrors({ service: 'sso-admin', operation: 'DescribeAccountAssignmentCreationStatus' });
    await expect(runGrant(d, job(d, req))).rejects.toMatchObject({ code: 'ACCESS_UNCONFIRMED' });
    sim.faults.clear();
    // The retry's own create is refused (a permission taken away meanwhile) while the first
    // one is still IN_PROGRESS in AWS.
    const mgmt = { accountId: integration.roleArn!.split(':')[4]!, roleName: integration.roleArn!.split('/').pop()! };
    sim.admin.setRolePermissions({ ...mgmt, allow: ['*'], deny: ['sso:CreateAccountAssignment'] });
    try {
      await expect(runGrant(d, job(d, req))).rejects.toMatchObject({ code: 'ACCESS_UNCONFIRMED' });
    } finally {
      sim.admin.setRolePermissions({ ...mgmt, allow: ['*'] });
    }
    const g = (await d.ledger!.getGrant('g-sent-4'))!;
    expect(g.state).toBe('pending');
    expect((await d.ledger!.getAccess(g.accessKey))!.holders).toEqual(['g-sent-4']);
    slowAssignments(false);
    sim.admin.advanceClock({ ms: SLOW_MS + 1 });
    expect(await runGrant(d, job(d, req))).toMatchObject({ state: 'granted', preExisting: false });
    await runRevoke(d, { ...job(d, req), origin: 'job' });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
  });

  test('a grant left pending with a sent change is removed by the sweeper at its expiry', async () => {
    const d = deps();
    const req = request('g-sent-2', '333333333302', 'Developer', { expiresAt: new Date(clock + 60_000).toISOString() });
    slowAssignments(true);
    sim.faults.serverErrors({ service: 'sso-admin', operation: 'DescribeAccountAssignmentCreationStatus' });
    await expect(runGrant(d, job(d, req))).rejects.toMatchObject({ code: 'ACCESS_UNCONFIRMED' });
    sim.faults.clear();
    slowAssignments(false);
    sim.admin.advanceClock({ ms: SLOW_MS + 1 });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(true);

    clock += 61_000;
    expect(await sweepOnce(deps(), logs.log)).toMatchObject({ revoked: 1, failed: 0 });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
    expect((await d.ledger!.getGrant('g-sent-2'))!.state).toBe('revoked');
  });

  test('the status check fails but reading the access back finds it in place: granted', async () => {
    const d = deps();
    const req = request('g-sent-3', '333333333303', 'Developer');
    const status = 'sso-admin:DescribeAccountAssignmentCreationStatus';
    slowAssignments(true);
    sim.faults.serverErrors({ service: 'sso-admin', operation: status.split(':')[1]! });
    const [c0, s0] = [calls('sso-admin:CreateAccountAssignment'), calls(status)];
    const running = runGrant(d, job(d, req));
    // AWS finishes the operation once the first status read has failed. The simulator
    // counts a call before its answer goes out, and every turn of the event loop runs this
    // check, so the clock moves before the connector can read anything again.
    while (calls('sso-admin:CreateAccountAssignment') === c0) await new Promise((r) => setTimeout(r, 5));
    while (calls(status) === s0) await new Promise((r) => setImmediate(r));
    sim.admin.advanceClock({ ms: SLOW_MS + 1 });
    const out = await running;
    expect(out).toMatchObject({ state: 'granted', preExisting: false, note: 'AWS did not confirm the change, but the access is in place' });
    expect((await d.ledger!.getGrant('g-sent-3'))!.state).toBe('granted');
    sim.faults.clear();
    slowAssignments(false);
    await runRevoke(d, { ...job(d, req), origin: 'job' });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
  });

  test('every kind: a server error on the change call leaves the grant pending and holding; an AWS refusal of the call releases it', async () => {
    const d = deps();
    const acct = '333333333302';
    const members = () => sim.admin.getGroupMembers({ accountId: acct, groupName: 'Operators' });
    const req = accessParamsSchema.parse({
      grantId: 'g-iam-5xx', accessKind: 'iam.groupMembership', principal: { type: 'user', id: `arn:aws:iam::${acct}:user/breakglass` }, target: { groupName: 'Operators' },
    });
    sim.faults.serverErrors({ service: 'iam', operation: 'AddUserToGroup' });
    await expect(runGrant(d, job(d, req))).rejects.toMatchObject({ code: 'ACCESS_UNCONFIRMED' });
    const g = (await d.ledger!.getGrant('g-iam-5xx'))!;
    expect(g.state).toBe('pending');
    expect((await d.ledger!.getAccess(g.accessKey))!.holders).toEqual(['g-iam-5xx']);
    sim.faults.clear();
    expect(await runGrant(d, job(d, req))).toMatchObject({ state: 'granted', preExisting: false });
    expect(members()).toContain('breakglass');
    await runRevoke(d, { ...job(d, req), origin: 'job' });
    expect(members()).not.toContain('breakglass');

    // Refused by AWS on its only attempt: nothing changed, the grant is `failed` and holds nothing.
    const refused = { ...req, grantId: 'g-iam-denied' };
    sim.admin.setPermissionsOfRole({ roleName: integration.memberRoleName, allow: ['*'], deny: ['iam:AddUserToGroup'] });
    try {
      await expect(runGrant(d, job(d, refused))).rejects.toMatchObject({ code: 'AWS_ACCESS_DENIED' });
    } finally {
      sim.admin.setPermissionsOfRole({ roleName: integration.memberRoleName, allow: ['*'] });
    }
    const f = (await d.ledger!.getGrant('g-iam-denied'))!;
    expect(f.state).toBe('failed');
    expect(f.changeSentAt).toBeUndefined();
    expect(await d.ledger!.getAccess(f.accessKey)).toBeUndefined();
    // Its retry sends the change again; an unknown outcome makes it active (`pending`) again.
    sim.faults.serverErrors({ service: 'iam', operation: 'AddUserToGroup' });
    await expect(runGrant(d, job(d, refused))).rejects.toMatchObject({ code: 'ACCESS_UNCONFIRMED' });
    expect((await d.ledger!.getGrant('g-iam-denied'))!.state).toBe('pending');
    sim.faults.clear();
    expect(await runGrant(d, job(d, refused))).toMatchObject({ state: 'granted', preExisting: false });
    await runRevoke(d, { ...job(d, refused), origin: 'job' });
    expect(members()).not.toContain('breakglass');
  });

  test.each([
    ['sso.groupMembership', 'identitystore', 'CreateGroupMembership'],
    ['iam.permissionsBoundary', 'iam', 'PutUserPermissionsBoundary'],
    ['iam.roleAssume', 'iam', 'UpdateAssumeRolePolicy'],
    ['ec2.ssmSession', 'iam', 'PutRolePolicy'],
  ] as const)('%s: a server error on %s.%s leaves the grant pending and holding; the retry grants it as its own', async (kindName, service, operation) => {
    const d = deps();
    const grantId = `g-5xx-${kindName.replace('.', '-')}`;
    const web1 = [...sim.world.accounts.get('333333333301')!.ssm.get('us-east-1')!.instances.values()].find((i) => i.name === 'web-1')!.id;
    const params = {
      'sso.groupMembership': { principal: { type: 'user', id: userId('grace') }, target: { groupId: [...sso().groups.values()].find((g) => g.DisplayName === 'Developers')!.GroupId } },
      'iam.permissionsBoundary': { principal: { type: 'user', id: 'arn:aws:iam::333333333303:user/breakglass' }, target: { boundaryPolicyArn: 'arn:aws:iam::333333333303:policy/AccessConnectorBoundary' } },
      'iam.roleAssume': {
        principal: { type: 'user', id: 'arn:aws:iam::333333333301:user/ci-bot' }, target: { roleArn: 'arn:aws:iam::444444444401:role/app-deployer' },
        expiresAt: new Date(clock + 3_600_000).toISOString(),
      },
      'ec2.ssmSession': { principal: { type: 'role', id: 'arn:aws:iam::333333333301:role/app-deployer' }, target: { accountId: '333333333301', region: 'us-east-1', instanceIds: [web1] } },
    }[kindName];
    const req = accessParamsSchema.parse({ grantId, accessKind: kindName, ...params });
    sim.faults.serverErrors({ service, operation });
    await expect(runGrant(d, job(d, req))).rejects.toMatchObject({ code: 'ACCESS_UNCONFIRMED' });
    const g = (await d.ledger!.getGrant(grantId))!;
    expect([g.state, g.changeSentAt !== undefined]).toEqual(['pending', true]);
    expect((await d.ledger!.getAccess(g.accessKey))!.holders).toEqual([grantId]);
    sim.faults.clear();
    expect(await runGrant(d, job(d, req))).toMatchObject({ state: 'granted', preExisting: false });
    expect(await runRevoke(d, { ...job(d, req), origin: 'job' })).toMatchObject({ state: 'revoked', preExisting: false });
    expect(await kindOf(kindName).describe(contextFor(d, integration, new AbortController().signal, d.log), req)).toMatchObject({ present: false });
  });

  test('a revoke job naming other access than the ledger records is invalid, and the policy is checked against the record', async () => {
    const granter = deps();
    const req = request('g-relabel', '333333333303', 'Billing');
    await runGrant(granter, job(granter, req));
    const policy = policySchema.parse({ version: 1, accessKinds: { disabled: ['sso.accountAssignment'] } });
    const d = deps({ policy });
    const handler = revokeJob(d.aws, d.ledger, () => clock);
    const run = (params: AccessRequest, integ: Integration = integration) => {
      const config = d.config;
      const veto = handler.admit!({ integration: integ, params, config });
      if (veto) return Promise.reject(Object.assign(new Error(veto.message), { code: `rejected:${veto.reason}` }));
      return handler.run({
        jobId: `job-${Math.random()}`, jobType: 'revoke', attempt: 1, integration: integ, params, signal: new AbortController().signal, log: d.log, config,
        progress: () => undefined, emitBatch: async () => undefined,
      });
    };
    // The same grant relabelled as a kind the policy does not disable passes admission...
    const relabelled = accessParamsSchema.parse({
      grantId: 'g-relabel', accessKind: 'sso.groupMembership', principal: { type: 'user', id: req.principal.id },
      target: { groupId: [...sso().groups.values()][0]!.GroupId },
    });
    await expect(run(relabelled)).rejects.toMatchObject({ code: 'JOB_PARAMS_INVALID' });
    // ...so does the right kind with another target, or another integration.
    await expect(run(request('g-relabel', '333333333301', 'Billing'), integration)).rejects.toMatchObject({ code: 'rejected:policy' });
    const otherTarget = request('g-relabel', '333333333301', 'Billing');
    await expect(runRevoke(granter, { ...job(granter, otherTarget), origin: 'job' })).rejects.toMatchObject({ code: 'JOB_PARAMS_INVALID' });
    await expect(runRevoke(granter, { ...job(granter, req), integration: { ...integration, id: 'int-other' }, origin: 'job' })).rejects.toMatchObject({ code: 'JOB_PARAMS_INVALID' });
    // The same integration id with another role passes a pin on that role, but the revoke
    // acts through the recorded integration, which the pin does not allow.
    const elsewhere = integration.roleArn!.replace(/role\/.*$/, 'role/Elsewhere');
    const pinned = deps({ policy: policySchema.parse({ version: 1, integrations: [{ id: 'int-demo', roleArns: [elsewhere] }] }) });
    const pinnedHandler = revokeJob(pinned.aws, pinned.ledger, () => clock);
    const moved = { ...integration, roleArn: elsewhere };
    expect(pinnedHandler.admit!({ integration: moved, params: req, config: pinned.config })).toBeUndefined();
    await expect(pinnedHandler.run({
      jobId: 'job-pinned', jobType: 'revoke', attempt: 1, integration: moved, params: req, signal: new AbortController().signal, log: pinned.log, config: pinned.config,
      progress: () => undefined, emitBatch: async () => undefined,
    })).rejects.toMatchObject({ code: 'POLICY_DENIED' });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(true);
    expect((await granter.ledger!.getGrant('g-relabel'))!.state).toBe('granted');
    // Named as granted, it is revoked (the policy that disables the kind is not in force here).
    expect(await runRevoke(granter, { ...job(granter, req), origin: 'job' })).toMatchObject({ state: 'revoked' });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
  });

  test('a revoke that failed midway stays revoking: a late grant is refused GRANT_REVOKING and the sweeper finishes the revoke', async () => {
    const d = deps();
    const req = request('g-half', '333333333301', 'SecurityAudit');
    await runGrant(d, job(d, req));
    sim.faults.serverErrors({ service: 'sso-admin', operation: 'DeleteAccountAssignment' });
    await expect(runRevoke(d, { ...job(d, req), origin: 'job' })).rejects.toMatchObject({ code: 'AWS_UNAVAILABLE' });
    expect((await d.ledger!.getGrant('g-half'))!.state).toBe('revoking');

    const c0 = calls('sso-admin:CreateAccountAssignment');
    await expect(runGrant(deps(), job(d, req))).rejects.toMatchObject({ code: 'GRANT_REVOKING' });
    expect((await d.ledger!.getGrant('g-half'))!.state).toBe('revoking');
    expect(calls('sso-admin:CreateAccountAssignment')).toBe(c0);

    sim.faults.clear();
    // No expiry: the sweeper finishes it because it is `revoking`.
    expect(await sweepOnce(deps(), logs.log)).toMatchObject({ revoked: 1, failed: 0 });
    expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
    expect((await d.ledger!.getGrant('g-half'))!.state).toBe('revoked');
  });

  test('cancelled or LEDGER_BUSY while waiting for the lock: the grant is recorded cancelled / failed, never left pending', async () => {
    const holder = deps();
    const req = request('g-wait-1', '333333333302', 'SecurityAudit');
    const lockKey = kindOf(req.accessKind).accessKey(req);
    let release!: () => void;
    let held!: () => void;
    const isHeld = new Promise<void>((r) => (held = r));
    const holding = holder.ledger!.withLock(lockKey, () => { held(); return new Promise<void>((r) => (release = r)); });
    await isHeld;
    try {
      // Cancelled once the grant is recorded, while it waits for the lock.
      const d = deps();
      const ac = new AbortController();
      const running = runGrant(d, job(d, req, ac.signal)).catch((e: unknown) => e);
      while (!(await d.ledger!.getGrant('g-wait-1'))) await new Promise((r) => setImmediate(r));
      ac.abort(new DOMException('cancelled', 'AbortError'));
      expect(isAbortError(await running)).toBe(true);
      expect((await d.ledger!.getGrant('g-wait-1'))!.state).toBe('cancelled');

      // The lock stays held past the wait: each wait between attempts moves the clock 100 s.
      const busy = deps({}, async () => { clock += 100_000; });
      const other = request('g-wait-2', '333333333302', 'SecurityAudit');
      await expect(runGrant(busy, job(busy, other))).rejects.toMatchObject({ code: 'LEDGER_BUSY' });
      expect((await busy.ledger!.getGrant('g-wait-2'))!.state).toBe('failed');
      expect(sim.admin.hasAssignment(assignment(req))).toBe(false);
    } finally {
      release();
      await holding;
    }
    // Both can be granted by a retry.
    const d = deps();
    expect(await runGrant(d, job(d, req))).toMatchObject({ state: 'granted' });
    await runRevoke(d, { ...job(d, req), origin: 'job' });
  });
});
