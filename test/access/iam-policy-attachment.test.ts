// iam.policyAttachment against the AWS simulator: facts for the policy file, grant/describe/
// revoke and their repeats for users, roles and groups; through the runner and its ledger:
// an attachment that was there before survives the revoke, overlapping grants share one
// attachment, the sweeper detaches at expiry, the quota of managed policies per principal is
// one clear failure (never retried), and the policy file refuses denied policies and roles.
// Hostile input and protected roles are refused before any AWS call.
import { iamPolicyAttachment } from '../../src/access/kinds/iam-policy-attachment.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { admitAccess } from '../../src/access/policy.js';
import { runGrant, runRevoke, type AccessDeps } from '../../src/access/run-access.js';
import { sweepOnce } from '../../src/access/sweeper.js';
import type { AccessContext, AccessRequest } from '../../src/access/types.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import { ConnectorError } from '../../src/errors.js';
import { policySchema, type Policy } from '../../src/policy/schema.js';
import { integrationSchema, type Integration } from '../../src/protocol/messages.js';
import { accessContextFor, codeOf, entryPoints } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { testAccessDeps, testAccessJob } from '../helpers/access-deps.js';
import { captureLog } from '../helpers/log.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';

type Target = { policyArn: string };
const iamArn = (acct: string, type: 'user' | 'role' | 'group', name: string, path = '/') => `arn:aws:iam::${acct}:${type}${path}${name}`;
const READ_ONLY = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const deploy = (acct: string) => `arn:aws:iam::${acct}:policy/DeployPolicy`;

function req(type: 'user' | 'role' | 'group', id: string, policyArn: string, grantId = 'g-1'): AccessRequest<Target> {
  return { grantId, accessKind: 'iam.policyAttachment', principal: { type, id }, target: { policyArn } };
}
const steps = (c: AccessContext, r: AccessRequest<Target>) => entryPoints(iamPolicyAttachment, c, r);

describe('iam.policyAttachment', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let ctx: AccessContext;
  let integration: Integration;
  let clock = Date.now();
  const runtimes: AwsRuntime[] = [];
  const logs = captureLog('debug');

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', quotas: false });
    // lambda-exec is opted in for just-in-time access (src/access/opt-in.ts) in the accounts
    // these tests attach to; 333333333304 keeps it untagged for the refusal below.
    for (const acct of ['333333333301', '333333333302', '333333333305', '444444444402', '444444444403', '444444444404']) {
      sim.admin.tagRole({ accountId: acct, roleName: 'lambda-exec', tags: { 'access-connector-jit': 'enabled' } });
    }
    restore = useAwsEnv(sim.env);
    ctx = accessContextFor(sim);
    integration = integrationSchema.parse(demoIntegration());
  });
  afterAll(async () => {
    for (const r of runtimes) r.destroy();
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  /** A connector process with its ledger in the simulator's DynamoDB, and the policy file `policy`. */
  const deps = (policy?: Policy): AccessDeps =>
    testAccessDeps({ runtimes, log: logs.log, now: () => clock, maxAttempts: 2, ...(policy && { config: { policy } }) });
  const job = (d: AccessDeps, r: AccessRequest<Target>, expiresAt?: string) => testAccessJob(d, integration, r, expiresAt);
  const attachedTo = (acct: string, type: 'user' | 'role' | 'group', name: string) => {
    const iam = sim.world.accounts.get(acct)!.iam;
    return (type === 'user' ? iam.users : type === 'role' ? iam.roles : iam.groups).get(name)!.attached ?? [];
  };
  const calls = (op: string) => sim.stats.snapshot().byOperation[op]?.calls ?? 0;
  const writes = () => Object.entries(sim.stats.snapshot().byOperation).filter(([k]) => /^iam:(Attach|Detach)/.test(k)).reduce((n, [, v]) => n + v.calls, 0);

  test('facts: the account, the policy, and the role or group it lands on', async () => {
    const acct = '333333333301';
    expect(await iamPolicyAttachment.facts(ctx, req('role', iamArn(acct, 'role', 'lambda-exec'), READ_ONLY))).toEqual({
      accountIds: [acct], roles: [iamArn(acct, 'role', 'lambda-exec')], managedPolicies: [READ_ONLY],
    });
    expect(await iamPolicyAttachment.facts(ctx, req('user', iamArn(acct, 'user', 'auditor'), deploy(acct)))).toEqual({ accountIds: [acct], managedPolicies: [deploy(acct)] });
    expect(await iamPolicyAttachment.facts(ctx, req('group', iamArn(acct, 'group', 'Auditors'), READ_ONLY))).toEqual({
      accountIds: [acct], groups: [{ id: iamArn(acct, 'group', 'Auditors'), name: 'iam:Auditors' }], managedPolicies: [READ_ONLY],
    });
    const missing = await iamPolicyAttachment.facts(ctx, req('user', iamArn(acct, 'user', 'auditor'), `arn:aws:iam::${acct}:policy/Nope`)).catch((e: unknown) => e);
    expect([(missing as ConnectorError).code, (missing as Error).message]).toEqual(['AWS_NOT_FOUND', `managed policy arn:aws:iam::${acct}:policy/Nope does not exist (for account ${acct})`]);
    // An ARN with a path the principal does not have is not this principal.
    expect(await codeOf(iamPolicyAttachment.facts(ctx, req('user', iamArn(acct, 'user', 'auditor', '/made/up/'), READ_ONLY)))).toBe('AWS_NOT_FOUND');
    expect(await codeOf(iamPolicyAttachment.describe(ctx, req('group', iamArn(acct, 'group', 'Nobody'), READ_ONLY)))).toBe('AWS_NOT_FOUND');
  });

  test.each([
    ['user', 'auditor'], ['role', 'lambda-exec'], ['group', 'Auditors'],
  ] as const)('%s: grant, describe, revoke, and each repeated', async (type, name) => {
    const acct = '333333333302';
    const before = [...attachedTo(acct, type, name)];
    const r = req(type, iamArn(acct, type, name), READ_ONLY);
    expect(await iamPolicyAttachment.describe(ctx, r)).toEqual({ present: false });
    await iamPolicyAttachment.grant(ctx, r, { present: false });
    expect(attachedTo(acct, type, name)).toEqual([...before, READ_ONLY]);
    expect(await iamPolicyAttachment.describe(ctx, r)).toEqual({ present: true });
    await iamPolicyAttachment.grant(ctx, r, { present: false });
    expect(attachedTo(acct, type, name)).toEqual([...before, READ_ONLY]);

    expect(await iamPolicyAttachment.revoke(ctx, r, {})).toBeUndefined();
    expect(attachedTo(acct, type, name)).toEqual(before);
    expect(await iamPolicyAttachment.describe(ctx, r)).toEqual({ present: false });
    expect(await iamPolicyAttachment.revoke(ctx, r, {})).toEqual({ notes: [`${READ_ONLY} was no longer attached to ${iamArn(acct, type, name)}`] });
    expect(attachedTo(acct, type, name)).toEqual(before);
  });

  test('runner: an attachment that was there before is pre-existing and survives the revoke', async () => {
    const d = deps();
    const acct = '333333333303';
    const r = req('user', iamArn(acct, 'user', 'breakglass'), ADMIN, 'g-pre');
    expect(await runGrant(d, job(d, r))).toMatchObject({ state: 'granted', preExisting: true });
    expect(await runRevoke(d, { ...job(d, r), origin: 'job' })).toMatchObject({ state: 'revoked', preExisting: true });
    expect(attachedTo(acct, 'user', 'breakglass')).toEqual([ADMIN]);
  });

  test('enableAudit: the revoke lists the events of the user or role in its account; a group has no user name to look up', async () => {
    const d = deps();
    const acct = '333333333301';
    const audited = { ...integration, enableAudit: true };
    const auditJob = (r: AccessRequest<Target>) => ({ ...job(d, r), integration: audited });
    const user = req('user', iamArn(acct, 'user', 'auditor'), READ_ONLY, 'g-audit-user');
    await runGrant(d, auditJob(user));
    sim.admin.addTrailEvent({ accountId: acct, region: integration.region, eventName: 'ListBuckets', eventSource: 's3.amazonaws.com', username: 'auditor', eventTime: clock + 1000 });
    sim.admin.addTrailEvent({ accountId: acct, region: integration.region, eventName: 'DeleteBucket', eventSource: 's3.amazonaws.com', username: 'someone-else', eventTime: clock + 1000 });
    clock += 5000;
    expect((await runRevoke(d, { ...auditJob(user), origin: 'job' })).audit?.events.map((e) => [e.eventName, e.accountId])).toEqual([['ListBuckets', acct]]);
    const group = req('group', iamArn(acct, 'group', 'Auditors'), READ_ONLY, 'g-audit-group');
    await runGrant(d, auditJob(group));
    clock += 5000;
    const out = await runRevoke(d, { ...auditJob(group), origin: 'job' });
    expect(out.state).toBe('revoked');
    expect(out.audit).toBeUndefined();
  });

  test('runner: overlapping grants share one attachment, detached when the last one ends; the sweeper ends it at expiry', async () => {
    const d = deps();
    const acct = '333333333303';
    const a = req('role', iamArn(acct, 'role', 'app-deployer'), READ_ONLY, 'g-over-a');
    const b = req('role', iamArn(acct, 'role', 'app-deployer'), READ_ONLY, 'g-over-b');
    expect(await runGrant(d, job(d, a))).toMatchObject({ state: 'granted', preExisting: false });
    sim.stats.reset();
    expect(await runGrant(d, job(d, b, new Date(clock + 3_600_000).toISOString()))).toMatchObject({ state: 'granted', preExisting: false });
    expect(calls('iam:AttachRolePolicy')).toBe(0);
    expect(await runRevoke(d, { ...job(d, a), origin: 'job' })).toMatchObject({ state: 'revoked', heldBy: 1 });
    expect(attachedTo(acct, 'role', 'app-deployer')).toContain(READ_ONLY);
    // b expires: the sweeper revokes it, and with it the attachment.
    clock += 2 * 3_600_000;
    expect(await sweepOnce(deps(), logs.log)).toMatchObject({ revoked: 1, failed: 0 });
    expect(attachedTo(acct, 'role', 'app-deployer')).not.toContain(READ_ONLY);
    expect(attachedTo(acct, 'role', 'app-deployer')).toEqual([deploy(acct)]);
  });

  test('runner: a server error on the attach leaves the grant pending and holding; the retry attaches it as its own', async () => {
    const d = deps();
    const acct = '333333333303';
    const r = req('group', iamArn(acct, 'group', 'Auditors'), READ_ONLY, 'g-5xx');
    sim.faults.serverErrors({ service: 'iam', operation: 'AttachGroupPolicy' });
    try {
      await expect(runGrant(d, job(d, r))).rejects.toMatchObject({ code: 'ACCESS_UNCONFIRMED' });
    } finally {
      sim.faults.clear();
    }
    const g = (await d.ledger!.getGrant('g-5xx'))!;
    expect([g.state, (await d.ledger!.getAccess(g.accessKey))!.holders]).toEqual(['pending', ['g-5xx']]);
    expect(attachedTo(acct, 'group', 'Auditors')).toEqual([]);
    expect(await runGrant(d, job(d, r))).toMatchObject({ state: 'granted', preExisting: false });
    expect(attachedTo(acct, 'group', 'Auditors')).toEqual([READ_ONLY]);
    expect(await runRevoke(d, { ...job(d, r), origin: 'job' })).toMatchObject({ state: 'revoked', preExisting: false });
    expect(attachedTo(acct, 'group', 'Auditors')).toEqual([]);
  });

  test('runner: the quota of managed policies per principal is one clear failure, sent once and never retried', async () => {
    const d = deps();
    const acct = '333333333304';
    const policies = sim.world.accounts.get(acct)!.iam.policies;
    const user = sim.world.accounts.get(acct)!.iam.users.get('ci-bot')!;
    for (let i = 0; user.attached!.length < 10; i++) {
      const arn = `arn:aws:iam::${acct}:policy/Filler${i}`;
      policies.set(arn, { arn, name: `Filler${i}`, id: `ANPAFILLER${i}`, path: '/', created: clock, updated: clock, document: '{"Version":"2012-10-17","Statement":[]}' });
      user.attached!.push(arn);
    }
    const r = req('user', iamArn(acct, 'user', 'ci-bot'), READ_ONLY, 'g-limit');
    sim.stats.reset();
    const err = await runGrant(d, job(d, r)).catch((e: unknown) => e) as ConnectorError;
    expect([err.code, err.retryable, err.message]).toEqual([
      'POLICY_ATTACHMENT_LIMIT', false,
      `user ${iamArn(acct, 'user', 'ci-bot')} already has 10 managed policies attached, the most AWS allows (quota PoliciesPerUser: 10); ${READ_ONLY} was not attached`,
    ]);
    expect(calls('iam:AttachUserPolicy')).toBe(1);
    expect(user.attached).toHaveLength(10);
    expect((await d.ledger!.getGrant('g-limit'))!.state).toBe('failed');
    expect(await d.ledger!.getAccess(iamPolicyAttachment.accessKey(r))).toBeUndefined();
    // With a raised quota the same grant goes through.
    sim.world.accounts.get(acct)!.iam.managedPoliciesQuota = 20;
    expect(await runGrant(d, job(d, { ...r, grantId: 'g-limit-2' }))).toMatchObject({ state: 'granted' });
    expect(user.attached).toHaveLength(11);
    await runRevoke(d, { ...job(d, { ...r, grantId: 'g-limit-2' }), origin: 'job' });
    expect(user.attached).toHaveLength(10);
  });

  test('runner: the policy file refuses denied managed policies (AWS-managed by ARN or name, customer-managed by ARN glob) and denied roles, with no write', async () => {
    const acct = '333333333305';
    const denied = deps(policySchema.parse({ version: 1, deniedManagedPolicies: [ADMIN, 'arn:aws:iam::*:policy/Deploy*', 'PowerUserAccess'], roles: { deny: ['*deployer*'] } }));
    sim.stats.reset();
    const cases: [AccessRequest<Target>, string][] = [
      [req('user', iamArn(acct, 'user', 'auditor'), ADMIN, 'g-deny-1'), 'deniedManagedPolicies[0]'],
      [req('group', iamArn(acct, 'group', 'Auditors'), deploy(acct), 'g-deny-2'), 'deniedManagedPolicies[1]'],
      [req('user', iamArn(acct, 'user', 'auditor'), 'arn:aws:iam::aws:policy/PowerUserAccess', 'g-deny-3'), 'deniedManagedPolicies[2]'],
      [req('role', iamArn(acct, 'role', 'app-deployer'), READ_ONLY, 'g-deny-4'), 'roles.deny[0]'],
    ];
    for (const [r, rule] of cases) {
      const e = await runGrant(denied, job(denied, r)).catch((x: unknown) => x) as ConnectorError;
      expect({ grant: r.grantId, code: e.code, rule: e.message.includes(rule) }).toEqual({ grant: r.grantId, code: 'POLICY_DENIED', rule: true });
    }
    expect(writes()).toBe(0);
    expect(attachedTo(acct, 'user', 'auditor')).toEqual(['arn:aws:iam::aws:policy/SecurityAudit']);
    // What the policy does not deny passes.
    const ok = req('role', iamArn(acct, 'role', 'lambda-exec'), READ_ONLY, 'g-deny-ok');
    expect(await runGrant(denied, job(denied, ok))).toMatchObject({ state: 'granted' });
    await runRevoke(denied, { ...job(denied, ok), origin: 'job' });
    // The kind can be switched off altogether.
    const off = policySchema.parse({ version: 1, accessKinds: { disabled: ['iam.policyAttachment'] } });
    const request = job(denied, req('user', iamArn(acct, 'user', 'auditor'), READ_ONLY, 'g-off')).request;
    expect(admitAccess(off, { jobType: 'grant', integration, request, now: clock })).toMatchObject({ ok: false, rule: 'accessKinds.disabled' });
  });

  test('protected roles, the management account and excluded accounts are refused', async () => {
    const acct = '444444444402';
    const reserved = [...sim.world.accounts.get(acct)!.iam.roles.values()].find((x) => x.name.startsWith('AWSReservedSSO_'))!;
    const refused = [
      iamArn(acct, 'role', reserved.name, reserved.path), iamArn(acct, 'role', 'AWSServiceRoleForSSO', '/aws-service-role/sso.amazonaws.com/'),
      iamArn(acct, 'role', 'OrganizationAccountAccessRole'), iamArn(acct, 'role', 'AccessConnectorMember'), iamArn('111111111111', 'role', 'AccessConnectorManagement'),
      iamArn(acct, 'role', 'stacksets-exec-0123456789abcdef'),
    ];
    sim.stats.reset();
    for (const arn of refused) {
      for (const step of steps(ctx, req('role', arn, READ_ONLY))) expect({ arn, code: await codeOf(step()) }).toEqual({ arn, code: 'ROLE_PROTECTED' });
    }
    for (const [type, name] of [['role', 'lambda-exec'], ['user', 'breakglass'], ['group', 'Operators']] as const) {
      for (const step of steps(ctx, req(type, iamArn('111111111111', type, name), READ_ONLY))) expect({ name, code: await codeOf(step()) }).toEqual({ name, code: 'ACCESS_REFUSED' });
    }
    expect(sim.stats.snapshot().total.calls).toBe(0);
    // The role's real path is checked too: a protected path hidden behind a plain ARN is refused once AWS names it.
    expect(sim.world.accounts.get(acct)!.iam.roles.get('AWSServiceRoleForSSO')?.path).toBe('/aws-service-role/sso.amazonaws.com/');
    expect(await codeOf(iamPolicyAttachment.facts(ctx, req('role', iamArn(acct, 'role', 'AWSServiceRoleForSSO'), READ_ONLY)))).toBe('AWS_NOT_FOUND');
    const excluding = accessContextFor(sim, { excludeAccountIds: [acct] });
    expect(await codeOf(iamPolicyAttachment.grant(excluding, req('role', iamArn(acct, 'role', 'lambda-exec'), READ_ONLY), { present: false }))).toBe('ACCESS_REFUSED');
    expect(attachedTo(acct, 'role', 'lambda-exec')).not.toContain(READ_ONLY);
  });

  test('hostile input is rejected before any AWS call', async () => {
    const acct = '444444444403';
    const good = iamArn(acct, 'role', 'lambda-exec');
    const hostilePolicies = [
      `${READ_ONLY}"}]`, `arn:aws:iam::${acct}:policy/../DeployPolicy`, `arn:aws:iam::${acct}:policy/Deploy Policy`, `arn:aws:iam::${acct}:policy/${'p'.repeat(5000)}`,
      `arn:aws:iam::${acct}:role/lambda-exec`, 'arn:aws:iam::aws:policy/*', `arn:aws:iam::${acct}:policy/x;rm -rf ~`, 'ReadOnlyAccess', '',
      // Another account's policy, another partition, an unknown partition.
      'arn:aws:iam::444444444401:policy/DeployPolicy', 'arn:aws-cn:iam::aws:policy/ReadOnlyAccess', 'arn:evil:iam::aws:policy/ReadOnlyAccess',
    ];
    const hostilePrincipals: [string, string][] = [
      ['role', `${good}"}]`], ['role', `arn:aws:iam::${acct}:role/../lambda-exec`], ['role', `arn:aws:iam::${acct}:role/lambda exec`],
      ['role', `arn:aws:iam::${acct}:role/${'r'.repeat(5000)}`], ['role', iamArn(acct, 'user', 'auditor')], ['group', iamArn(acct, 'role', 'lambda-exec')],
      ['user', `arn:aws:iam::aws:user/auditor`], ['group', `arn:aws:iam::${acct}:group/${'g'.repeat(129)}`], ['user', 'auditor'],
    ];
    sim.stats.reset();
    for (const p of hostilePolicies) {
      for (const step of steps(ctx, req('role', good, p))) expect({ p, code: await codeOf(step()) }).toEqual({ p, code: 'JOB_PARAMS_INVALID' });
    }
    for (const [type, id] of hostilePrincipals) {
      expect({ id, bad: typeof iamPolicyAttachment.checkPrincipal!({ type: type as 'role', id }) }).toEqual({ id, bad: 'string' });
      for (const step of steps(ctx, req(type as 'role', id, READ_ONLY))) expect({ id, code: await codeOf(step()) }).toEqual({ id, code: 'JOB_PARAMS_INVALID' });
    }
    expect(sim.stats.snapshot().total.calls).toBe(0);
    // The params schema refuses them on receipt too.
    expect(accessParamsSchema.safeParse({ grantId: 'g-h', accessKind: 'iam.policyAttachment', principal: { type: 'role', id: good }, target: { policyArn: 'arn:aws:iam::aws:policy/*' } }).success).toBe(false);
    expect(accessParamsSchema.safeParse({ grantId: 'g-h', accessKind: 'iam.policyAttachment', principal: { type: 'role', id: good }, target: { policyArn: READ_ONLY, extra: 1 } }).success).toBe(false);
    expect(iamPolicyAttachment.target.safeParse({ policyArn: 'arn:aws:iam::aws:policy/job-function/ViewOnlyAccess' }).success).toBe(true);
    expect(iamPolicyAttachment.accessKey(req('role', good, READ_ONLY))).toBe(`${good}|policy/${READ_ONLY}`);
  });

  test('a role not opted in for just-in-time access is refused before any write (JIT_ROLES=tagged), allowed with JIT_ROLES=any', async () => {
    const acct = '333333333304';
    const r = req('role', iamArn(acct, 'role', 'lambda-exec'), READ_ONLY, 'g-not-opted-in');
    const d = deps();
    const before = writes();
    const err = await runGrant(d, job(d, r)).then(() => undefined, (e: unknown) => e) as ConnectorError;
    expect(err.code).toBe('ROLE_NOT_OPTED_IN');
    expect(err.message).toContain('access-connector-jit=enabled');
    expect(writes()).toBe(before);
    expect(attachedTo(acct, 'role', 'lambda-exec')).not.toContain(READ_ONLY);
    const anyRole = { ...ctx, settings: { ...ctx.settings, jitRoles: 'any' as const } };
    expect(await iamPolicyAttachment.facts(anyRole, r)).toMatchObject({ roles: [r.principal.id] });
  });

  test('requiredActions are exactly the AWS actions the kind calls', async () => {
    const acct = '444444444404';
    sim.stats.reset();
    for (const [type, name] of [['user', 'auditor'], ['role', 'lambda-exec'], ['group', 'Auditors']] as const) {
      const r = req(type, iamArn(acct, type, name), READ_ONLY);
      await iamPolicyAttachment.facts(ctx, r);
      await iamPolicyAttachment.describe(ctx, r);
      await iamPolicyAttachment.grant(ctx, r, { present: false });
      await iamPolicyAttachment.revoke(ctx, r, {});
    }
    expect(await codeOf(iamPolicyAttachment.facts(accessContextFor(sim, { type: 'aws-account' }), req('user', iamArn('111111111111', 'user', 'auditor'), READ_ONLY)))).toBe('ACCESS_REFUSED');
    const used = Object.keys(sim.stats.snapshot().byOperation).filter((k) => !k.startsWith('sts:')).sort();
    expect(used).toEqual([...iamPolicyAttachment.requiredActions].sort());
  });
});
