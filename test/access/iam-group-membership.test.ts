// iam.groupMembership against the AWS simulator: facts for the policy, grant/describe/revoke
// and their repeats, membership that was there before, the account rules, and hostile
// input refused before any AWS call.
import { iamGroupMembership } from '../../src/access/kinds/iam-group-membership.js';
import type { AccessContext, AccessRequest } from '../../src/access/types.js';
import { accessContextFor, codeOf, entryPoints } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';

type Target = { groupName: string };
const userArn = (acct: string, name: string, path = '/') => `arn:aws:iam::${acct}:user${path}${name}`;

function req(userId: string, groupName: string): AccessRequest<Target> {
  return { grantId: 'g-1', accessKind: 'iam.groupMembership', principal: { type: 'user', id: userId }, target: { groupName } };
}

const steps = (c: AccessContext, r: AccessRequest<Target>) => entryPoints(iamGroupMembership, c, r);


describe('iam.groupMembership', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let ctx: AccessContext;
  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo' });
    restore = useAwsEnv(sim.env);
    ctx = accessContextFor(sim);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  const members = (acct: string, group: string) => sim.admin.getGroupMembers({ accountId: acct, groupName: group });

  test('facts: the account, the group by ARN and iam: name, and its managed policies', async () => {
    const acct = '333333333301';
    expect(await iamGroupMembership.facts(ctx, req(userArn(acct, 'breakglass'), 'Operators'))).toEqual({
      accountIds: [acct],
      groups: [{ id: `arn:aws:iam::${acct}:group/Operators`, name: 'iam:Operators' }],
      managedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
    });
    expect((await iamGroupMembership.facts(ctx, req(userArn(acct, 'breakglass'), 'Auditors'))).managedPolicies).toEqual([]);
  });

  test('grant, describe, revoke, and each repeated', async () => {
    const acct = '333333333302';
    const r = req(userArn(acct, 'breakglass'), 'Operators');
    expect(await iamGroupMembership.describe(ctx, r)).toEqual({ present: false });
    await iamGroupMembership.grant(ctx, r, { present: false });
    expect(members(acct, 'Operators')).toEqual(['ci-bot', 'breakglass']);
    expect(await iamGroupMembership.describe(ctx, r)).toEqual({ present: true });
    await iamGroupMembership.grant(ctx, r, { present: false });
    expect(members(acct, 'Operators')).toEqual(['ci-bot', 'breakglass']);

    expect(await iamGroupMembership.revoke(ctx, r, {})).toBeUndefined();
    expect(members(acct, 'Operators')).toEqual(['ci-bot']);
    expect(await iamGroupMembership.describe(ctx, r)).toEqual({ present: false });
    await iamGroupMembership.revoke(ctx, r, {});
    expect(members(acct, 'Operators')).toEqual(['ci-bot']);
  });

  test('a member before the grant: describe says present (the runner records it as pre-existing)', async () => {
    expect(await iamGroupMembership.describe(ctx, req(userArn('333333333303', 'ci-bot'), 'Operators'))).toEqual({ present: true });
    // IAM group names are unique regardless of case.
    expect(await iamGroupMembership.describe(ctx, req(userArn('333333333303', 'ci-bot'), 'operators'))).toEqual({ present: true });
  });

  test('revoke when the group is gone: NoSuchEntity is success', async () => {
    const acct = '333333333304';
    const r = req(userArn(acct, 'auditor'), 'Operators');
    await iamGroupMembership.grant(ctx, r, { present: false });
    sim.world.accounts.get(acct)!.iam.groups.delete('Operators');
    expect(await iamGroupMembership.revoke(ctx, r, {})).toEqual({ notes: ['auditor was no longer in Operators'] });
  });

  test('a user ARN with a made-up path, a missing user or group: AWS_NOT_FOUND from facts', async () => {
    const acct = '333333333305';
    expect(await codeOf(iamGroupMembership.facts(ctx, req(userArn(acct, 'breakglass', '/admins/'), 'Operators')))).toBe('AWS_NOT_FOUND');
    expect(await codeOf(iamGroupMembership.facts(ctx, req(userArn(acct, 'nobody'), 'Operators')))).toBe('AWS_NOT_FOUND');
    expect(await codeOf(iamGroupMembership.facts(ctx, req(userArn(acct, 'breakglass'), 'Nobody')))).toBe('AWS_NOT_FOUND');
    // A user with a path is found by its full ARN.
    sim.admin.createUser({ accountId: acct, userName: 'pathed', path: '/team/a/' });
    expect((await iamGroupMembership.facts(ctx, req(userArn(acct, 'pathed', '/team/a/'), 'Operators'))).accountIds).toEqual([acct]);
    const r = req(userArn(acct, 'pathed', '/team/a/'), 'Operators');
    await iamGroupMembership.grant(ctx, r, { present: false });
    expect(await iamGroupMembership.describe(ctx, r)).toEqual({ present: true });
    await iamGroupMembership.revoke(ctx, r, {});
    expect(members(acct, 'Operators')).toEqual(['ci-bot']);
  });

  test('the management account only with allowManagementAccount; excluded accounts never', async () => {
    const r = req(userArn('111111111111', 'breakglass'), 'Operators');
    sim.stats.reset();
    for (const step of steps(ctx, r)) expect(await codeOf(step())).toBe('ACCESS_REFUSED');
    expect(sim.stats.snapshot().total.calls).toBe(0);
    expect(members('111111111111', 'Operators')).toEqual(['ci-bot']);
    const allowed = accessContextFor(sim, { allowManagementAccount: true });
    expect((await iamGroupMembership.facts(allowed, r)).accountIds).toEqual(['111111111111']);
    const excluding = accessContextFor(sim, { excludeAccountIds: ['333333333306'] });
    expect(await codeOf(iamGroupMembership.grant(excluding, req(userArn('333333333306', 'breakglass'), 'Operators'), { present: false }))).toBe('ACCESS_REFUSED');
    expect(members('333333333306', 'Operators')).toEqual(['ci-bot']);
  });

  test('an aws-account integration acts only in its own account, and in a management account only when allowed', async () => {
    // Integration of account 111111111111, which manages the organization.
    const single = accessContextFor(sim, { type: 'aws-account' });
    const err = await codeOf(iamGroupMembership.facts(single, req(userArn('333333333301', 'breakglass'), 'Operators')));
    expect(err).toBe('ACCESS_REFUSED');
    const own = req(userArn('111111111111', 'auditor'), 'Operators');
    expect(await codeOf(iamGroupMembership.facts(single, own))).toBe('ACCESS_REFUSED');
    const allowed = accessContextFor(sim, { type: 'aws-account', allowManagementAccount: true });
    expect((await iamGroupMembership.facts(allowed, own)).accountIds).toEqual(['111111111111']);
  });

  test('ARNs of the aws, aws-us-gov and aws-cn partitions parse; another partition than the integration\'s is refused before any call', async () => {
    for (const partition of ['aws', 'aws-us-gov', 'aws-cn']) {
      expect(iamGroupMembership.checkPrincipal!({ type: 'user', id: `arn:${partition}:iam::333333333301:user/team/breakglass` })).toBeUndefined();
    }
    expect(iamGroupMembership.checkPrincipal!({ type: 'user', id: 'arn:aws-iso:iam::333333333301:user/breakglass' })).toMatch(/partition/);
    sim.stats.reset();
    for (const step of steps(ctx, req('arn:aws-us-gov:iam::333333333301:user/breakglass', 'Operators'))) expect(await codeOf(step())).toBe('JOB_PARAMS_INVALID');
    expect(sim.stats.snapshot().total.calls).toBe(0);
  });

  test('hostile input is rejected before any AWS call', async () => {
    const good = userArn('333333333301', 'breakglass');
    const hostileGroups = ['Operators"}]', '../Operators', '..', 'Oper ators', 'Operators;id', '$(id)', 'Operators\n', 'a'.repeat(129), 'x'.repeat(5000), '', 'Ops/Admins'];
    const hostileUsers = [
      `${good}"}]`, 'arn:aws:iam::333333333301:user/../breakglass', 'arn:aws:iam::333333333301:user/break glass',
      `arn:aws:iam::333333333301:user/${'u'.repeat(5000)}`, 'arn:aws:iam::333333333301:role/breakglass', 'arn:aws:iam::333333333301:user/b`id`',
      'arn:aws:iam::3333333333011:user/breakglass', 'arn:aws:iam::333333333301:user/breakglass/',
    ];
    sim.stats.reset();
    for (const groupName of hostileGroups) {
      expect({ groupName, ok: iamGroupMembership.target.safeParse({ groupName }).success }).toEqual({ groupName, ok: false });
      for (const step of steps(ctx, req(good, groupName))) expect({ groupName, code: await codeOf(step()) }).toEqual({ groupName, code: 'JOB_PARAMS_INVALID' });
    }
    for (const id of hostileUsers) {
      expect({ id, bad: typeof iamGroupMembership.checkPrincipal!({ type: 'user', id }) }).toEqual({ id, bad: 'string' });
      for (const step of steps(ctx, req(id, 'Operators'))) expect({ id, code: await codeOf(step()) }).toEqual({ id, code: 'JOB_PARAMS_INVALID' });
    }
    expect(iamGroupMembership.checkPrincipal!({ type: 'role', id: 'arn:aws:iam::333333333301:role/x' })).toBe('principal.type must be user');
    expect(sim.stats.snapshot().total.calls).toBe(0);
    expect(iamGroupMembership.target.safeParse({ groupName: 'Ops+=,.@_-1' }).success).toBe(true);
    expect(iamGroupMembership.accessKey(req(good, 'Operators'))).toBe(`${good}|group/Operators`);
  });

  const usedActions = () => Object.keys(sim.stats.snapshot().byOperation).filter((k) => !k.startsWith('sts:')).sort();

  test('requiredActions are exactly the AWS actions the kind calls', async () => {
    const r = req(userArn('333333333306', 'auditor'), 'Operators');
    sim.stats.reset();
    await iamGroupMembership.facts(ctx, r);
    await iamGroupMembership.describe(ctx, r);
    await iamGroupMembership.grant(ctx, r, { present: false });
    await iamGroupMembership.revoke(ctx, r, {});
    // DescribeOrganization: an aws-account integration checks whether its account manages an organization.
    expect(await codeOf(iamGroupMembership.facts(accessContextFor(sim, { type: 'aws-account' }), req(userArn('111111111111', 'auditor'), 'Operators')))).toBe('ACCESS_REFUSED');
    expect(usedActions()).toEqual([...iamGroupMembership.requiredActions].sort());
  });
});
