// sso.accountAssignment and the Identity Center helpers against the AWS simulator (demo
// world): assignments are asynchronous there as in AWS, so grant/revoke must wait for
// SUCCEEDED, survive ConflictException, and never exceed the outstanding-operation limit.
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import type { Assignment, AssignmentOp } from '../sim/aws/world.js';
import { ConnectorError } from '../../src/errors.js';
import { principalSchema, type AccessContext, type AccessRequest } from '../../src/access/types.js';
import { ssoAccountAssignment as kind } from '../../src/access/kinds/sso-account-assignment.js';
import { createAssignment, deleteAssignment, hasAssignment, parsePortalUrl, ssoInstance, type AssignmentRef } from '../../src/access/identity-center.js';
import { accessContextFor } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';

type Target = { accountId: string; permissionSetArn: string };
const MGMT = '111111111111';
const DELAY_MS = 200;

let sim: AwsSimulator;
let restore: () => void;

const userId = (name: string) => [...sim.world.sso!.users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
const groupId = (name: string) => [...sim.world.sso!.groups.values()].find((g) => g.DisplayName === name)!.GroupId;
const psArn = (name: string) => [...sim.world.sso!.permissionSets.values()].find((p) => p.name === name)!.arn;
const calls = (op: string) => sim.stats.snapshot().byOperation[`sso-admin:${op}`] ?? { calls: 0, errors: 0, throttled: 0 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function request(principal: { type: 'user' | 'group'; id: string }, target: Target): AccessRequest<Target> {
  return { grantId: 'grant-1', accessKind: 'sso.accountAssignment', principal, target };
}
function simRef(r: AccessRequest<Target>): Assignment {
  return { accountId: r.target.accountId, permissionSetArn: r.target.permissionSetArn, principalType: r.principal.type === 'group' ? 'GROUP' : 'USER', principalId: r.principal.id };
}
async function rejection(p: Promise<unknown>): Promise<ConnectorError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}
/** Highest number of the given operations in flight at once, from their simulated lifetimes. */
function maxOutstanding(ops: AssignmentOp[]): number {
  const edges = ops.flatMap((o) => [[o.created, 1], [o.completesAt, -1]] as const).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (cur += d));
  return max;
}
/** 25 assignments none of which exists in the demo world: ReadOnly for every user in the sandbox accounts. */
function freshRefs(n: number): AssignmentRef[] {
  const users = [...sim.world.sso!.users.keys()].sort();
  const out: AssignmentRef[] = [];
  for (let i = 0; out.length < n; i++) {
    out.push({ accountId: `55555555550${(i % 5) + 1}`, permissionSetArn: psArn('ReadOnly'), principalType: 'USER', principalId: users[Math.floor(i / 5) % users.length]! });
  }
  return out;
}

describe('sso.accountAssignment (simulator, assignments take 200 ms)', () => {
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: DELAY_MS, maxOutstanding: 10 } });
    restore = useAwsEnv(sim.env);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });
  // Each test's new AWS layer starts with a full client-side bucket; so do the simulator's.
  beforeEach(() => sim.admin.setQuotas({}));
  afterEach(() => {
    sim.runtime.options.sso!.maxOutstanding = 10;
    sim.runtime.options.sso!.outstandingError = 'ConflictException';
  });

  test('hostile targets and principals are rejected by validation, before any AWS call', () => {
    sim.stats.reset();
    const ps = psArn('ReadOnly');
    const huge = 'x'.repeat(10 * 1024);
    const badTargets: unknown[] = [
      { accountId: '44444444440;', permissionSetArn: ps },
      { accountId: '$(reboot)', permissionSetArn: ps },
      { accountId: '../444444444', permissionSetArn: ps },
      { accountId: huge, permissionSetArn: ps },
      { accountId: '4444444444021', permissionSetArn: ps },
      { accountId: '444444444402', permissionSetArn: `${ps}/../../x` },
      { accountId: '444444444402', permissionSetArn: `${ps}"}]` },
      { accountId: '444444444402', permissionSetArn: 'arn:aws:sso:::permissionSet/ssoins-0123456789abcdef/ps-../../../etc/pa' },
      { accountId: '444444444402', permissionSetArn: 'arn:aws:iam::444444444402:role/admin' },
      { accountId: '444444444402', permissionSetArn: `; rm -rf / #${ps}` },
      { accountId: '444444444402', permissionSetArn: huge },
      { accountId: '444444444402', permissionSetArn: ps, extra: 'field' },
      { accountId: '444444444402' },
    ];
    for (const t of badTargets) expect({ t, ok: kind.target.safeParse(t).success }).toEqual({ t, ok: false });
    expect(kind.target.safeParse({ accountId: '444444444402', permissionSetArn: ps }).success).toBe(true);
    // Other partitions are accepted.
    expect(kind.target.safeParse({ accountId: '444444444402', permissionSetArn: ps.replace('arn:aws:', 'arn:aws-us-gov:') }).success).toBe(true);

    const badIds = ['$(id)', '`id`', '../../etc/passwd', '"}]', 'alice;rm', `${userId('alice')}/../x`, `${userId('alice')}x`, 'a'.repeat(2048)];
    for (const id of badIds) {
      for (const type of ['user', 'group'] as const) {
        const p = principalSchema.safeParse({ type, id });
        expect({ id, ok: p.success && kind.checkPrincipal!(p.data) === undefined }).toEqual({ id, ok: false });
      }
    }
    for (const id of ['alice; rm -rf /', huge, 'x\ny']) expect(principalSchema.safeParse({ type: 'user', id }).success).toBe(false);
    expect(kind.checkPrincipal!({ type: 'user', id: userId('alice') })).toBeUndefined();
    expect(kind.checkPrincipal!({ type: 'group', id: '9a67636455-2b3c4d5e-1111-2222-3333-444455556666' })).toBeUndefined();
    expect(kind.checkPrincipal!({ type: 'group', id: '2b3c4d5e-1111-2222-3333-444455556666' })).toBeUndefined();
    expect(sim.stats.snapshot().total.calls).toBe(0);
  });

  test('ssoInstance finds the instance in the SSO region once per job, and says what to set when there is none', async () => {
    const ctx = accessContextFor(sim);
    sim.stats.reset();
    const truth = sim.admin.ssoInstance();
    expect(await ssoInstance(ctx)).toEqual({ instanceArn: truth.instanceArn, identityStoreId: truth.identityStoreId, region: 'us-east-1' });
    await ssoInstance(ctx);
    expect(calls('ListInstances').calls).toBe(1);

    const elsewhere = accessContextFor(sim, { ssoRegion: 'eu-west-1' });
    const err = await rejection(ssoInstance(elsewhere));
    expect(err.code).toBe('AWS_NOT_FOUND');
    expect(err.message).toContain('no IAM Identity Center instance');
    expect(err.message).toContain('eu-west-1');
    expect(err.message).toContain('ssoRegion');
  });

  test('facts: the account, the permission set by name, its AWS and customer managed policies', async () => {
    const ctx = accessContextFor(sim);
    const read = await kind.facts(ctx, request({ type: 'user', id: userId('grace') }, { accountId: '444444444402', permissionSetArn: psArn('ReadOnly') }));
    expect(read).toEqual({
      accountIds: ['444444444402'],
      permissionSets: [{ arn: psArn('ReadOnly'), name: 'ReadOnly', managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] }],
      managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
    });
    const dev = await kind.facts(ctx, request({ type: 'group', id: groupId('Finance') }, { accountId: '333333333302', permissionSetArn: psArn('Developer') }));
    expect(dev.managedPolicies).toEqual(['arn:aws:iam::aws:policy/PowerUserAccess', 'arn:aws:iam::333333333302:policy/DeployPolicy']);
  });

  test('facts: a permission set that does not exist, or of another instance, is AWS_NOT_FOUND', async () => {
    const ctx = accessContextFor(sim);
    const missing = psArn('ReadOnly').replace(/ps-[0-9a-f]{16}$/, 'ps-0000000000000000');
    expect((await rejection(kind.facts(ctx, request({ type: 'user', id: userId('grace') }, { accountId: '444444444402', permissionSetArn: missing })))).code).toBe('AWS_NOT_FOUND');
    const other = 'arn:aws:sso:::permissionSet/ssoins-0000000000000000/ps-0000000000000000';
    const err = await rejection(kind.facts(ctx, request({ type: 'user', id: userId('grace') }, { accountId: '444444444402', permissionSetArn: other })));
    expect(err.code).toBe('AWS_NOT_FOUND');
    expect(err.message).toContain('another Identity Center instance');
  });

  test('the management account is refused unless the integration allows it (organization and single-account integrations)', async () => {
    const r = request({ type: 'user', id: userId('grace') }, { accountId: MGMT, permissionSetArn: psArn('ReadOnly') });
    sim.stats.reset();
    const err = await rejection(kind.facts(accessContextFor(sim), r));
    expect(err.code).toBe('ACCESS_REFUSED');
    expect(err.message).toContain('allowManagementAccount');
    expect(sim.stats.snapshot().byOperation['organizations:DescribeOrganization']?.calls).toBe(1);
    expect(calls('DescribePermissionSet').calls).toBe(0);

    expect((await kind.facts(accessContextFor(sim, { allowManagementAccount: true }), r)).accountIds).toEqual([MGMT]);

    // aws-account: the rule is the same for every kind and integration type (accounts.ts):
    // the account AWS names as the organization's management account is the one protected.
    sim.stats.reset();
    const single = accessContextFor(sim, { type: 'aws-account' });
    expect((await rejection(kind.facts(single, r))).code).toBe('ACCESS_REFUSED');
    expect(sim.stats.snapshot().byOperation['organizations:DescribeOrganization']?.calls).toBe(1);

    const excluded = await rejection(kind.facts(accessContextFor(sim, { excludeAccountIds: ['444444444402'] }), { ...r, target: { ...r.target, accountId: '444444444402' } }));
    expect(excluded.code).toBe('ACCESS_REFUSED');
    expect(excluded.message).toContain('excludes');
  });

  test('grant resolves only once AWS reports SUCCEEDED; describe, revoke and their repeats are idempotent', async () => {
    const ctx = accessContextFor(sim);
    const r = request({ type: 'user', id: userId('grace') }, { accountId: '444444444403', permissionSetArn: psArn('ReadOnly') });
    const a = simRef(r);
    expect(await kind.describe(ctx, r)).toEqual({ present: false });

    sim.stats.reset();
    const known = new Set(sim.admin.listAssignmentOperations());
    const granting = kind.grant(ctx, r, { present: false });
    let op: AssignmentOp | undefined;
    while (!(op = (sim.admin.listAssignmentOperations() as AssignmentOp[]).find((o) => !known.has(o) && o.kind === 'create'))) await sleep(2);
    // AWS accepted the create but has not finished it: not in place yet.
    expect(op.status).toBe('IN_PROGRESS');
    expect(sim.admin.hasAssignment(a)).toBe(false);
    await granting;
    expect(Date.now()).toBeGreaterThanOrEqual(op.completesAt);
    expect(sim.admin.hasAssignment(a)).toBe(true);
    expect(calls('DescribeAccountAssignmentCreationStatus').calls).toBeGreaterThanOrEqual(1);

    expect(await kind.describe(ctx, r)).toEqual({ present: true });
    // Creating an existing assignment again is harmless.
    await createAssignment(ctx, a);
    expect(sim.admin.listAssignments({ accountId: a.accountId, principalId: a.principalId })).toEqual([a]);

    expect(await kind.revoke(ctx, r, {})).toEqual({});
    expect(sim.admin.hasAssignment(a)).toBe(false);
    expect(calls('DescribeAccountAssignmentDeletionStatus').calls).toBeGreaterThanOrEqual(1);
    expect(await kind.revoke(ctx, r, {})).toEqual({ notes: ['The assignment was already gone in AWS.'] });
    expect(await deleteAssignment(ctx, a)).toBe('absent');
    expect(await kind.describe(ctx, r)).toEqual({ present: false });
  });

  test('a group principal is assigned as GROUP', async () => {
    const ctx = accessContextFor(sim);
    const r = request({ type: 'group', id: groupId('Finance') }, { accountId: '333333333303', permissionSetArn: psArn('ReadOnly') });
    await kind.grant(ctx, r, { present: false });
    expect(sim.admin.hasAssignment({ ...simRef(r), principalType: 'GROUP' })).toBe(true);
    expect(await hasAssignment(ctx, { ...simRef(r), principalType: 'USER' })).toBe(false);
    await kind.revoke(ctx, r, {});
    expect(sim.admin.hasAssignment(simRef(r))).toBe(false);
  });

  test('an assignment AWS reports FAILED is ACCESS_FAILED with AWS reason, for create and delete', async () => {
    const ctx = accessContextFor(sim);
    const r = request({ type: 'user', id: userId('heidi') }, { accountId: '444444444404', permissionSetArn: psArn('ReadOnly') });
    sim.admin.failNextAssignments({ reason: 'Unable to provision the permission set: role AWSReservedSSO_ReadOnly could not be created' });
    const err = await rejection(kind.grant(ctx, r, { present: false }));
    expect(err.code).toBe('ACCESS_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('Unable to provision the permission set: role AWSReservedSSO_ReadOnly could not be created');
    expect(sim.admin.hasAssignment(simRef(r))).toBe(false);

    // AWS's own failure for a principal that does not exist.
    const ghost = request({ type: 'user', id: '9a67636455-2b3c4d5e-1111-2222-3333-444455556666' }, r.target);
    const ghostErr = await rejection(kind.grant(ctx, ghost, { present: false }));
    expect(ghostErr.code).toBe('ACCESS_FAILED');
    expect(ghostErr.message).toContain('No user with id 9a67636455-2b3c4d5e-1111-2222-3333-444455556666 found');

    sim.admin.addAssignment(simRef(r));
    sim.admin.failNextAssignments({ reason: 'Injected deletion failure' });
    const del = await rejection(kind.revoke(ctx, r, {}));
    expect(del.code).toBe('ACCESS_FAILED');
    expect(del.message).toContain('Injected deletion failure');
    expect(sim.admin.hasAssignment(simRef(r))).toBe(true);
    sim.admin.removeAssignment(simRef(r));
  });

  test('a second operation on an assignment in progress gets ConflictException, which is retried until it succeeds', async () => {
    const ctx = accessContextFor(sim);
    const a: AssignmentRef = { accountId: '444444444405', permissionSetArn: psArn('ReadOnly'), principalType: 'USER', principalId: userId('ivan') };
    // Operations of 2 s here, so the second call lands while the first is in progress
    // however late a loaded machine sends it.
    sim.runtime.options.sso!.assignmentDelayMs = 2_000;
    try {
      sim.stats.reset();
      await Promise.all([createAssignment(ctx, a), sleep(20).then(() => createAssignment(ctx, a))]);
      expect(calls('CreateAccountAssignment').errors).toBeGreaterThanOrEqual(1);
      expect(sim.admin.hasAssignment(a)).toBe(true);
      // A revoke racing a grant ends with the last one AWS ran, never with a failure.
      sim.stats.reset();
      await Promise.all([deleteAssignment(ctx, a), sleep(20).then(() => deleteAssignment(ctx, a))]);
      expect(calls('DeleteAccountAssignment').errors).toBeGreaterThanOrEqual(1);
      expect(sim.admin.hasAssignment(a)).toBe(false);
    } finally {
      sim.runtime.options.sso!.assignmentDelayMs = DELAY_MS;
    }
  }, 60_000);

  test('25 concurrent assignments with the limit at 10 never exceed it and all succeed, without a single conflict', async () => {
    const ctx = accessContextFor(sim);
    ctx.settings.ssoMaxOutstandingAssignments = 10;
    const refs = freshRefs(25);
    const known = new Set(sim.admin.listAssignmentOperations());
    sim.stats.reset();
    await Promise.all(refs.map((a) => createAssignment(ctx, a)));
    const ops = (sim.admin.listAssignmentOperations() as AssignmentOp[]).filter((o) => !known.has(o));
    expect(ops).toHaveLength(25);
    expect(ops.every((o) => o.status === 'SUCCEEDED')).toBe(true);
    expect(maxOutstanding(ops)).toBeLessThanOrEqual(10);
    expect(maxOutstanding(ops)).toBeGreaterThan(1);
    // No ConflictException; a call the simulator's 20 TPS quota throttled may have been repeated by the SDK.
    const create = calls('CreateAccountAssignment');
    expect({ errors: create.errors, accepted: create.calls - create.throttled }).toEqual({ errors: 0, accepted: 25 });
    for (const a of refs) expect(sim.admin.hasAssignment(a)).toBe(true);
    for (const a of refs) sim.admin.removeAssignment(a);
  }, 60_000);

  test.each(['ConflictException', 'ThrottlingException'] as const)('when AWS allows fewer outstanding operations than the setting, its %s is retried and all 25 succeed', async (answer) => {
    sim.runtime.options.sso!.maxOutstanding = 4;
    sim.runtime.options.sso!.outstandingError = answer;
    const ctx = accessContextFor(sim);
    ctx.settings.ssoMaxOutstandingAssignments = 10;
    const refs = freshRefs(25);
    const known = new Set(sim.admin.listAssignmentOperations());
    sim.stats.reset();
    await Promise.all(refs.map((a) => createAssignment(ctx, a)));
    const ops = (sim.admin.listAssignmentOperations() as AssignmentOp[]).filter((o) => !known.has(o));
    expect(ops.filter((o) => o.status === 'SUCCEEDED')).toHaveLength(25);
    expect(maxOutstanding(ops)).toBeLessThanOrEqual(4);
    const create = calls('CreateAccountAssignment');
    expect(create.errors + create.throttled).toBeGreaterThan(0);
    for (const a of refs) expect(sim.admin.hasAssignment(a)).toBe(true);
    for (const a of refs) sim.admin.removeAssignment(a);
  }, 90_000);

  test('accessDetails: a shortcut link to the account and permission set once facts named it, session limits, custom text', async () => {
    const ctx = accessContextFor(sim, { customAccessDetails: 'Ask #cloud-help for help.' });
    const r = request({ type: 'user', id: userId('grace') }, { accountId: '444444444402', permissionSetArn: psArn('ReadOnly') });
    // Without facts in this job the name is unknown: the plain portal.
    expect(kind.accessDetails(ctx, r).url).toBe('https://d-1234567890.awsapps.com/start');
    await kind.facts(ctx, r);
    const d = kind.accessDetails(ctx, r);
    expect(d.url).toBe('https://d-1234567890.awsapps.com/start/#/console?account_id=444444444402&role_name=ReadOnly');
    expect(d.instructions).toContain('444444444402');
    expect(d.instructions).toContain('ReadOnly');
    expect(d.revokeLimits!.join(' ')).toContain('8 hours');
    expect(d.custom).toBe('Ask #cloud-help for help.');
    expect(JSON.stringify(d)).not.toMatch(/secret|AKIA/i);
  });

  test('accessDetails never turns an ssoPortalUrl that is not an access portal into a link', () => {
    const r = request({ type: 'user', id: userId('grace') }, { accountId: '444444444402', permissionSetArn: psArn('ReadOnly') });
    const hostile = [
      'https://evil.example.com/start',
      'http://d-1234567890.awsapps.com/start',
      'https://d-1234567890.awsapps.com.evil.example/start',
      'https://evil.example/d-1234567890.awsapps.com/start',
      'https://user:pw@d-1234567890.awsapps.com/start',
      'https://d-1234567890.awsapps.com:8443/start',
      'https://d-1234567890.awsapps.com/start/../../evil',
      'https://d-1234567890.awsapps.com/start?next=https://evil.example',
      'javascript:alert(document.cookie)//d-1234567890.awsapps.com/start',
      'https://d-1234567890.awsapps.com/start"}]<script>',
      'not a url',
    ];
    for (const raw of hostile) {
      const d = kind.accessDetails(accessContextFor(sim, { ssoPortalUrl: raw }), r);
      expect({ raw, url: d.url }).toEqual({ raw, url: undefined });
      expect(d.instructions).toContain('ssoPortalUrl is not an IAM Identity Center access portal');
      expect(d.instructions).not.toContain(raw);
      expect(d.instructions).not.toContain('evil');
    }
    const none = kind.accessDetails(accessContextFor(sim, { ssoPortalUrl: undefined }), r);
    expect(none.url).toBeUndefined();
    expect(none.instructions).toContain('access portal');
  });

  test('parsePortalUrl accepts the portal forms AWS documents, and builds shortcuts only on the classic ones', () => {
    expect(parsePortalUrl('https://d-1234567890.awsapps.com/start')).toEqual({ url: 'https://d-1234567890.awsapps.com/start', shortcuts: true });
    expect(parsePortalUrl('https://my-company.awsapps.com/start/#/')).toEqual({ url: 'https://my-company.awsapps.com/start', shortcuts: true });
    expect(parsePortalUrl('https://D-1234567890.AWSAPPS.COM/start/')).toEqual({ url: 'https://d-1234567890.awsapps.com/start', shortcuts: true });
    expect(parsePortalUrl('https://my-company.awsapps.cn/start')).toEqual({ url: 'https://my-company.awsapps.cn/start', shortcuts: true });
    expect(parsePortalUrl('https://start.us-gov-home.awsapps.com/directory/d-1234567890')).toEqual({ url: 'https://start.us-gov-home.awsapps.com/directory/d-1234567890', shortcuts: false });
    expect(parsePortalUrl('https://start.us-gov-west-1.us-gov-home.awsapps.com/directory/acme')).toEqual({ url: 'https://start.us-gov-west-1.us-gov-home.awsapps.com/directory/acme', shortcuts: false });
    expect(parsePortalUrl('https://ssoins-7223fd24797c3af2.portal.us-east-1.app.aws')).toEqual({ url: 'https://ssoins-7223fd24797c3af2.portal.us-east-1.app.aws', shortcuts: false });
    expect(parsePortalUrl('https://ssoins-7223fd24797c3af2.eu-west-1.portal.amazonaws.com/')).toEqual({ url: 'https://ssoins-7223fd24797c3af2.eu-west-1.portal.amazonaws.com', shortcuts: false });
    for (const bad of ['https://-x.awsapps.com/start', 'https://d-1234567890.awsapps.com/', 'https://start.us-gov-home.awsapps.com/directory/../x', 'https://ssoins-zz.portal.us-east-1.app.aws', 'https://x.app.aws/start', 'h'.repeat(600)]) {
      expect({ bad, p: parsePortalUrl(bad) }).toEqual({ bad, p: undefined });
    }
  });

  test('requiredActions lists every AWS action the kind called', async () => {
    const ctx = accessContextFor(sim);
    const r = request({ type: 'user', id: userId('judy') }, { accountId: '444444444401', permissionSetArn: psArn('ReadOnly') });
    sim.stats.reset();
    await kind.facts(ctx, r);
    await kind.describe(ctx, r);
    await kind.grant(ctx, r, { present: false });
    await kind.revoke(ctx, r, {});
    const used = Object.keys(sim.stats.snapshot().byOperation)
      .filter((k) => !k.startsWith('sts:'))
      .map((k) => k.replace(/^sso-admin:/, 'sso:'));
    expect(used.filter((a) => !kind.requiredActions.includes(a))).toEqual([]);
    expect(new Set(kind.requiredActions).size).toBe(kind.requiredActions.length);
  });
});

describe('sso.accountAssignment when AWS never finishes (simulator, assignments take an hour)', () => {
  let slow: AwsSimulator;
  let restoreSlow: () => void;
  beforeAll(async () => {
    slow = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: 3_600_000 } });
    restoreSlow = useAwsEnv(slow.env);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restoreSlow();
    await slow.close();
  });

  test('an assignment still IN_PROGRESS at the poll deadline is ACCESS_TIMEOUT (retryable), not success', async () => {
    const ctx: AccessContext = accessContextFor(slow);
    let offset = 0;
    ctx.now = () => Date.now() + offset;
    const users = [...slow.world.sso!.users.keys()].sort();
    const ps = [...slow.world.sso!.permissionSets.values()].find((p) => p.name === 'ReadOnly')!.arn;
    const a: AssignmentRef = { accountId: '444444444402', permissionSetArn: ps, principalType: 'USER', principalId: users[0]! };
    slow.stats.reset();
    const granting = createAssignment(ctx, a);
    // Once the first status poll went out, let the job's clock pass the 5-minute deadline.
    while ((slow.stats.snapshot().byOperation['sso-admin:DescribeAccountAssignmentCreationStatus']?.calls ?? 0) < 1) await sleep(5);
    offset = 6 * 60_000;
    const err = await rejection(granting);
    expect(err.code).toBe('ACCESS_TIMEOUT');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/request [0-9a-f-]{36}/);
    expect(slow.admin.hasAssignment(a)).toBe(false);
  });
});
