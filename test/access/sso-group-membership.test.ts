// sso.groupMembership against the AWS simulator (demo world): the policy sees what the
// group grants, external directories and the management account are refused, and grant /
// revoke are idempotent with AWS's real Identity Store error shapes.
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { ConnectorError } from '../../src/errors.js';
import { principalSchema, type AccessRequest } from '../../src/access/types.js';
import { ssoGroupMembership as kind } from '../../src/access/kinds/sso-group-membership.js';
import { accessContextFor } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';

type Target = { groupId: string };
const MGMT = '111111111111';
const DEV_ACCOUNTS = ['444444444401', '444444444402', '444444444403', '444444444404', '444444444405', '555555555501', '555555555502', '555555555503', '555555555504', '555555555505'];

let sim: AwsSimulator;
let restore: () => void;

const userId = (name: string) => [...sim.world.sso!.users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;
const groupId = (name: string) => [...sim.world.sso!.groups.values()].find((g) => g.DisplayName === name)!.GroupId;
const mutating = () => {
  const ops = sim.stats.snapshot().byOperation;
  return ['identitystore:CreateGroupMembership', 'identitystore:DeleteGroupMembership', 'sso-admin:CreateAccountAssignment', 'sso-admin:DeleteAccountAssignment']
    .reduce((n, k) => n + (ops[k]?.calls ?? 0), 0);
};

function request(user: string, group: string): AccessRequest<Target> {
  return { grantId: 'grant-1', accessKind: 'sso.groupMembership', principal: { type: 'user', id: user }, target: { groupId: group } };
}
async function rejection(p: Promise<unknown>): Promise<ConnectorError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConnectorError);
  return err as ConnectorError;
}

describe('sso.groupMembership (simulator)', () => {
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', sso: { assignmentDelayMs: 200 } });
    restore = useAwsEnv(sim.env);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });
  // Each test's new AWS layer starts with a full client-side bucket; so do the simulator's.
  beforeEach(() => sim.admin.setQuotas({}));

  test('hostile group and user ids are rejected by validation, before any AWS call', () => {
    sim.stats.reset();
    const good = groupId('Developers');
    for (const bad of ['$(id)', '`reboot`', '; rm -rf /', '../../etc/passwd', `${good}/../x`, `${good}"}]`, 'x'.repeat(10 * 1024), `${good}\n`]) {
      expect({ bad, ok: kind.target.safeParse({ groupId: bad }).success }).toEqual({ bad, ok: false });
    }
    expect(kind.target.safeParse({ groupId: good, extra: 1 }).success).toBe(false);
    expect(kind.target.safeParse({ groupId: good }).success).toBe(true);
    for (const bad of ['$(id)', '../../etc/passwd', '"}]', `${userId('grace')}/..`, 'a'.repeat(2048)]) {
      const p = principalSchema.safeParse({ type: 'user', id: bad });
      expect({ bad, ok: p.success && kind.checkPrincipal!(p.data) === undefined }).toEqual({ bad, ok: false });
    }
    expect(principalSchema.safeParse({ type: 'user', id: 'x'.repeat(10 * 1024) }).success).toBe(false);
    expect(kind.principalTypes).toEqual(['user']);
    expect(kind.checkPrincipal!({ type: 'user', id: userId('grace') })).toBeUndefined();
    expect(sim.stats.snapshot().total.calls).toBe(0);
  });

  test('facts: the group by name, and every account, permission set and policy it is assigned', async () => {
    const facts = await kind.facts(accessContextFor(sim), request(userId('grace'), groupId('Developers')));
    expect(facts.groups).toEqual([{ id: groupId('Developers'), name: 'sso:Developers' }]);
    expect(facts.accountIds).toEqual(DEV_ACCOUNTS);
    const devPs = [...sim.world.sso!.permissionSets.values()].find((p) => p.name === 'Developer')!;
    const policies = ['arn:aws:iam::aws:policy/PowerUserAccess', ...DEV_ACCOUNTS.map((a) => `arn:aws:iam::${a}:policy/DeployPolicy`)];
    expect(facts.permissionSets).toEqual([{ arn: devPs.arn, name: 'Developer', managedPolicies: policies }]);
    expect(facts.managedPolicies).toEqual([...policies].sort());
  });

  test('a group that reaches the management account is refused unless the integration allows it', async () => {
    const r = request(userId('grace'), groupId('Admins'));
    sim.stats.reset();
    const err = await rejection(kind.facts(accessContextFor(sim), r));
    expect(err.code).toBe('ACCESS_REFUSED');
    expect(err.message).toContain('Admins');
    expect(err.message).toContain(MGMT);
    expect(mutating()).toBe(0);
    const allowed = await kind.facts(accessContextFor(sim, { allowManagementAccount: true }), r);
    expect(allowed.accountIds).toContain(MGMT);
    expect(allowed.permissionSets!.map((p) => p.name)).toEqual(['AdministratorAccess']);
  });

  test('a user or group from an external directory (ExternalIds) is refused unless the policy allows external writes', async () => {
    const r = request(userId('grace'), groupId('Developers'));
    const scim = [{ Issuer: 'https://scim.example.com', Id: 'ext-1' }];
    try {
      sim.admin.setIdentitySource({ source: 'EXTERNAL_IDP' });
      sim.admin.setExternalIds({ userId: userId('grace'), externalIds: scim });
      sim.stats.reset();
      const err = await rejection(kind.facts(accessContextFor(sim), r));
      expect(err.code).toBe('ACCESS_REFUSED');
      expect(err.message).toContain(`user ${userId('grace')}`);
      expect(err.message).toContain('does not flow back');
      expect(err.message).toContain('allowExternalIdentityWrites');
      expect(mutating()).toBe(0);

      const optedIn = accessContextFor(sim);
      optedIn.settings.allowExternalIdentityWrites = true;
      expect((await kind.facts(optedIn, r)).accountIds).toEqual(DEV_ACCOUNTS);

      sim.admin.setExternalIds({ userId: userId('grace'), externalIds: [] });
      sim.admin.setExternalIds({ groupId: groupId('Developers'), externalIds: scim });
      const groupErr = await rejection(kind.facts(accessContextFor(sim), r));
      expect(groupErr.code).toBe('ACCESS_REFUSED');
      expect(groupErr.message).toContain('group Developers');
    } finally {
      sim.admin.setExternalIds({ userId: userId('grace'), externalIds: [] });
      sim.admin.setExternalIds({ groupId: groupId('Developers'), externalIds: [] });
      sim.admin.setIdentitySource({ source: 'IDENTITY_CENTER' });
    }
  });

  test('facts of a group or user that does not exist is AWS_NOT_FOUND', async () => {
    const ghost = '9a67636455-2b3c4d5e-1111-2222-3333-444455556666';
    expect((await rejection(kind.facts(accessContextFor(sim), request(userId('grace'), ghost)))).code).toBe('AWS_NOT_FOUND');
    expect((await rejection(kind.facts(accessContextFor(sim), request(ghost, groupId('Developers'))))).code).toBe('AWS_NOT_FOUND');
  });

  test('grant, describe, revoke and their repeats are idempotent', async () => {
    const ctx = accessContextFor(sim);
    const r = request(userId('grace'), groupId('Developers'));
    const members = () => sim.admin.listGroupMemberships({ groupId: groupId('Developers'), userId: userId('grace') });
    expect(await kind.describe(ctx, r)).toEqual({ present: false });
    await kind.grant(ctx, r, { present: false });
    expect(members()).toHaveLength(1);
    expect(await kind.describe(ctx, r)).toEqual({ present: true });

    // Added meanwhile (AWS answers ConflictException "already exists"): in place, not an error, no duplicate.
    sim.stats.reset();
    await kind.grant(ctx, r, { present: false });
    expect(sim.stats.snapshot().byOperation['identitystore:CreateGroupMembership']).toMatchObject({ calls: 1, errors: 1 });
    expect(members()).toHaveLength(1);

    expect(await kind.revoke(ctx, r, {})).toEqual({});
    expect(members()).toHaveLength(0);
    expect(await kind.revoke(ctx, r, {})).toEqual({ notes: ['The membership was already gone in AWS.'] });
    expect(await kind.describe(ctx, r)).toEqual({ present: false });
  });

  test('a grant to a group that no longer exists fails with AWS_NOT_FOUND, never reports success', async () => {
    const r = request(userId('grace'), '9a67636455-2b3c4d5e-1111-2222-3333-444455556666');
    const err = await rejection(kind.grant(accessContextFor(sim), r, { present: false }));
    expect(err.code).toBe('AWS_NOT_FOUND');
    expect(sim.admin.listGroupMemberships({ userId: userId('grace') }).map((m) => m.GroupId)).not.toContain(r.target.groupId);
  });

  test('accessDetails: what the group grants, the portal link, session limits, custom text', async () => {
    const ctx = accessContextFor(sim, { customAccessDetails: 'Questions: #cloud-help' });
    const r = request(userId('grace'), groupId('Developers'));
    expect(kind.accessDetails(ctx, r).instructions).toContain(groupId('Developers'));
    await kind.facts(ctx, r);
    const d = kind.accessDetails(ctx, r);
    expect(d.instructions).toContain('group Developers');
    expect(d.instructions).toContain('Developer in 10 accounts');
    expect(d.url).toBe('https://d-1234567890.awsapps.com/start');
    expect(d.revokeLimits!.join(' ')).toContain('stay valid');
    expect(d.custom).toBe('Questions: #cloud-help');
    const bad = kind.accessDetails(accessContextFor(sim, { ssoPortalUrl: 'https://phish.example/start' }), r);
    expect(bad.url).toBeUndefined();
    expect(bad.instructions).not.toContain('phish');
  });

  test('requiredActions lists every AWS action the kind called', async () => {
    const ctx = accessContextFor(sim);
    const r = request(userId('heidi'), groupId('Developers'));
    sim.stats.reset();
    await kind.facts(ctx, r);
    await kind.describe(ctx, r);
    await kind.grant(ctx, r, { present: false });
    await kind.grant(ctx, r, { present: false });
    await kind.revoke(ctx, r, {});
    await kind.revoke(ctx, r, {});
    const used = Object.keys(sim.stats.snapshot().byOperation)
      .filter((k) => !k.startsWith('sts:'))
      .map((k) => k.replace(/^sso-admin:/, 'sso:'));
    expect(used.filter((a) => !kind.requiredActions.includes(a))).toEqual([]);
    expect(new Set(kind.requiredActions).size).toBe(kind.requiredActions.length);
  });
});
