// iam.permissionsBoundary against the AWS simulator: revoke restores exactly the state before
// the grant (a previous boundary, or none), leaves a boundary someone changed since, and
// refuses protected roles, the management account and hostile input before any AWS call.
import { iamPermissionsBoundary } from '../../src/access/kinds/iam-permissions-boundary.js';
import type { AccessContext, AccessRequest } from '../../src/access/types.js';
import { ConnectorError } from '../../src/errors.js';
import { accessContextFor, codeOf, entryPoints } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';

type Target = { boundaryPolicyArn: string };
const roleArn = (acct: string, name: string, path = '/') => `arn:aws:iam::${acct}:role${path}${name}`;
const userArn = (acct: string, name: string) => `arn:aws:iam::${acct}:user/${name}`;
const ours = (acct: string) => `arn:aws:iam::${acct}:policy/AccessConnectorBoundary`;
const READ_ONLY = 'arn:aws:iam::aws:policy/ReadOnlyAccess';

function req(id: string, boundaryPolicyArn: string): AccessRequest<Target> {
  return { grantId: 'g-1', accessKind: 'iam.permissionsBoundary', principal: { type: id.includes(':role/') ? 'role' : 'user', id }, target: { boundaryPolicyArn } };
}

const steps = (c: AccessContext, r: AccessRequest<Target>) => entryPoints(iamPermissionsBoundary, c, r, { present: false, observed: { previousBoundary: null } }, { previousBoundary: null });


describe('iam.permissionsBoundary', () => {
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

  const roleBoundary = (acct: string, name: string) => sim.admin.getRole({ accountId: acct, roleName: name })!.boundary;
  const userBoundary = (acct: string, name: string) => sim.admin.getUser({ accountId: acct, userName: name })!.boundary;

  /** describe + grant as the runner does them; returns what the ledger keeps. */
  async function grantAll(r: AccessRequest<Target>): Promise<Record<string, unknown>> {
    const before = await iamPermissionsBoundary.describe(ctx, r);
    expect(before.present).toBe(false);
    return { ...before.observed, ...(await iamPermissionsBoundary.grant(ctx, r, before) ?? {}) };
  }

  test('facts: the account, the role and the boundary; users carry no roles', async () => {
    const acct = '333333333301';
    expect(await iamPermissionsBoundary.facts(ctx, req(roleArn(acct, 'lambda-exec'), ours(acct)))).toEqual({ accountIds: [acct], roles: [roleArn(acct, 'lambda-exec')], boundaries: [ours(acct)] });
    expect(await iamPermissionsBoundary.facts(ctx, req(userArn(acct, 'breakglass'), READ_ONLY))).toEqual({ accountIds: [acct], boundaries: [READ_ONLY] });
  });

  test('a role without a boundary: grant sets it, revoke restores "none"; repeats are harmless', async () => {
    const acct = '333333333302';
    const r = req(roleArn(acct, 'lambda-exec'), ours(acct));
    const kept = await grantAll(r);
    expect(kept).toEqual({ previousBoundary: null });
    expect(roleBoundary(acct, 'lambda-exec')).toBe(ours(acct));
    expect(await iamPermissionsBoundary.describe(ctx, r)).toEqual({ present: true, observed: { previousBoundary: ours(acct) } });

    expect(await iamPermissionsBoundary.revoke(ctx, r, kept)).toEqual({ notes: ['boundary removed: there was none before the grant'] });
    expect(roleBoundary(acct, 'lambda-exec')).toBeNull();
    expect(await iamPermissionsBoundary.revoke(ctx, r, kept)).toEqual({ notes: ['the previous boundary was already in place'] });
    expect(roleBoundary(acct, 'lambda-exec')).toBeNull();
  });

  test('a previous boundary is put back exactly, for a role and for a user', async () => {
    const acct = '333333333303';
    sim.world.accounts.get(acct)!.iam.roles.get('app-deployer')!.boundary = READ_ONLY;
    const r = req(roleArn(acct, 'app-deployer'), ours(acct));
    const kept = await grantAll(r);
    expect(kept).toEqual({ previousBoundary: READ_ONLY });
    expect(roleBoundary(acct, 'app-deployer')).toBe(ours(acct));
    expect(await iamPermissionsBoundary.revoke(ctx, r, kept)).toEqual({ notes: [`previous boundary ${READ_ONLY} restored`] });
    expect(roleBoundary(acct, 'app-deployer')).toBe(READ_ONLY);

    sim.world.accounts.get(acct)!.iam.users.get('breakglass')!.boundary = READ_ONLY;
    const u = req(userArn(acct, 'breakglass'), ours(acct));
    const keptU = await grantAll(u);
    expect(userBoundary(acct, 'breakglass')).toBe(ours(acct));
    await iamPermissionsBoundary.revoke(ctx, u, keptU);
    expect(userBoundary(acct, 'breakglass')).toBe(READ_ONLY);

    const none = req(userArn(acct, 'auditor'), READ_ONLY);
    const keptN = await grantAll(none);
    expect(userBoundary(acct, 'auditor')).toBe(READ_ONLY);
    await iamPermissionsBoundary.revoke(ctx, none, keptN);
    expect(userBoundary(acct, 'auditor')).toBeNull();
  });

  test('the boundary already that policy: describe says present, and reports it as the previous one', async () => {
    const acct = '333333333304';
    sim.world.accounts.get(acct)!.iam.roles.get('lambda-exec')!.boundary = ours(acct);
    expect(await iamPermissionsBoundary.describe(ctx, req(roleArn(acct, 'lambda-exec'), ours(acct)))).toEqual({ present: true, observed: { previousBoundary: ours(acct) } });
  });

  test('someone changed the boundary after the grant: revoke leaves theirs and says so', async () => {
    const acct = '333333333305';
    const r = req(roleArn(acct, 'lambda-exec'), ours(acct));
    const kept = await grantAll(r);
    sim.world.accounts.get(acct)!.iam.roles.get('lambda-exec')!.boundary = READ_ONLY;
    expect(await iamPermissionsBoundary.revoke(ctx, r, kept)).toEqual({ notes: [`the boundary of ${roleArn(acct, 'lambda-exec')} is now ${READ_ONLY}, not ${ours(acct)} that the grant set; left unchanged`] });
    expect(roleBoundary(acct, 'lambda-exec')).toBe(READ_ONLY);
    delete sim.world.accounts.get(acct)!.iam.roles.get('lambda-exec')!.boundary;
    const kept2 = await grantAll(r);
    delete sim.world.accounts.get(acct)!.iam.roles.get('lambda-exec')!.boundary;
    expect((await iamPermissionsBoundary.revoke(ctx, r, { ...kept2, previousBoundary: READ_ONLY }))?.notes?.[0]).toContain('is now none');
    expect(roleBoundary(acct, 'lambda-exec')).toBeNull();
  });

  test('the previous boundary was deleted since: revoke fails and leaves ours (never less restricted than before)', async () => {
    const acct = '333333333306';
    const legacy = `arn:aws:iam::${acct}:policy/legacy/UnusedPolicy`;
    sim.world.accounts.get(acct)!.iam.roles.get('app-deployer')!.boundary = legacy;
    const r = req(roleArn(acct, 'app-deployer'), ours(acct));
    const kept = await grantAll(r);
    sim.world.accounts.get(acct)!.iam.policies.delete(legacy);
    const err = await codeOf(iamPermissionsBoundary.revoke(ctx, r, kept));
    expect(err).toBe('ACCESS_FAILED');
    expect(roleBoundary(acct, 'app-deployer')).toBe(ours(acct));
    // A ledger entry without a valid previous boundary is never guessed at.
    expect(await codeOf(iamPermissionsBoundary.revoke(ctx, r, {}))).toBe('ACCESS_FAILED');
    expect(await codeOf(iamPermissionsBoundary.revoke(ctx, r, { previousBoundary: 'arn:aws:iam::aws:policy/"}]' }))).toBe('ACCESS_FAILED');
    expect(roleBoundary(acct, 'app-deployer')).toBe(ours(acct));
  });

  test('a boundary policy that does not exist: AWS_NOT_FOUND; a policy of another account: refused before any call', async () => {
    const acct = '444444444401';
    const err = await iamPermissionsBoundary.facts(ctx, req(roleArn(acct, 'lambda-exec'), `arn:aws:iam::${acct}:policy/Nope`)).catch((e: unknown) => e);
    expect((err as ConnectorError).code).toBe('AWS_NOT_FOUND');
    expect((err as Error).message).toBe(`boundary policy arn:aws:iam::${acct}:policy/Nope does not exist in account ${acct}`);
    sim.stats.reset();
    for (const step of steps(ctx, req(roleArn(acct, 'lambda-exec'), ours('444444444402')))) expect(await codeOf(step())).toBe('JOB_PARAMS_INVALID');
    for (const step of steps(ctx, req(roleArn(acct, 'lambda-exec'), 'arn:aws-cn:iam::aws:policy/ReadOnlyAccess'))) expect(await codeOf(step())).toBe('JOB_PARAMS_INVALID');
    expect(sim.stats.snapshot().total.calls).toBe(0);
  });

  test('protected roles, the management account and excluded accounts are refused', async () => {
    const acct = '444444444402';
    const reserved = [...sim.world.accounts.get(acct)!.iam.roles.values()].find((x) => x.name.startsWith('AWSReservedSSO_'))!;
    const refused = [
      roleArn(acct, reserved.name, reserved.path), roleArn(acct, 'AWSServiceRoleForSSO', '/aws-service-role/sso.amazonaws.com/'),
      roleArn(acct, 'OrganizationAccountAccessRole'), roleArn(acct, 'AccessConnectorMember'), roleArn('111111111111', 'AccessConnectorManagement'),
      roleArn('111111111111', 'lambda-exec'), userArn('111111111111', 'breakglass'),
    ];
    sim.stats.reset();
    for (const arn of refused) {
      // The management account's own entities are refused as such; protected roles by their rule first.
      const code = /lambda-exec|breakglass/.test(arn) ? 'ACCESS_REFUSED' : 'ROLE_PROTECTED';
      for (const step of steps(ctx, req(arn, READ_ONLY))) expect({ arn, code: await codeOf(step()) }).toEqual({ arn, code });
    }
    expect(sim.stats.snapshot().total.calls).toBe(0);
    const allowed = accessContextFor(sim, { allowManagementAccount: true });
    expect((await iamPermissionsBoundary.facts(allowed, req(userArn('111111111111', 'breakglass'), READ_ONLY))).accountIds).toEqual(['111111111111']);
    const excluding = accessContextFor(sim, { excludeAccountIds: [acct] });
    expect(await codeOf(iamPermissionsBoundary.grant(excluding, req(roleArn(acct, 'lambda-exec'), READ_ONLY), { present: false, observed: { previousBoundary: null } }))).toBe('ACCESS_REFUSED');
    expect(roleBoundary(acct, 'lambda-exec')).toBeNull();
  });

  test('hostile input is rejected before any AWS call', async () => {
    const acct = '444444444403';
    const goodRole = roleArn(acct, 'lambda-exec');
    const hostilePolicies = [
      `${ours(acct)}"}]`, `arn:aws:iam::${acct}:policy/../AccessConnectorBoundary`, `arn:aws:iam::${acct}:policy/Access Connector`,
      `arn:aws:iam::${acct}:policy/${'p'.repeat(5000)}`, `arn:aws:iam::${acct}:role/lambda-exec`, 'arn:aws:iam::aws:policy/*',
      `arn:aws:iam::${acct}:policy/x;rm -rf ~`, 'ReadOnlyAccess',
    ];
    const hostilePrincipals = [`${goodRole}"}]`, `arn:aws:iam::${acct}:role/../lambda-exec`, `arn:aws:iam::${acct}:role/lambda exec`, `arn:aws:iam::${acct}:role/${'r'.repeat(5000)}`];
    sim.stats.reset();
    for (const p of hostilePolicies) {
      expect({ p, ok: iamPermissionsBoundary.target.safeParse({ boundaryPolicyArn: p }).success }).toEqual({ p, ok: false });
      for (const step of steps(ctx, req(goodRole, p))) expect({ p, code: await codeOf(step()) }).toEqual({ p, code: 'JOB_PARAMS_INVALID' });
    }
    for (const id of hostilePrincipals) {
      expect(typeof iamPermissionsBoundary.checkPrincipal!({ type: 'role', id })).toBe('string');
      for (const step of steps(ctx, req(id, READ_ONLY))) expect({ id, code: await codeOf(step()) }).toEqual({ id, code: 'JOB_PARAMS_INVALID' });
    }
    expect(sim.stats.snapshot().total.calls).toBe(0);
    expect(roleBoundary(acct, 'lambda-exec')).toBeNull();
    expect(iamPermissionsBoundary.target.safeParse({ boundaryPolicyArn: 'arn:aws:iam::aws:policy/job-function/ViewOnlyAccess' }).success).toBe(true);
    expect(iamPermissionsBoundary.accessKey(req(goodRole, READ_ONLY))).toBe(goodRole);
  });

  const usedActions = () => Object.keys(sim.stats.snapshot().byOperation).filter((k) => !k.startsWith('sts:')).sort();

  test('requiredActions are exactly the AWS actions the kind calls', async () => {
    const acct = '444444444404';
    sim.world.accounts.get(acct)!.iam.users.get('auditor')!.boundary = READ_ONLY;
    sim.stats.reset();
    for (const r of [req(roleArn(acct, 'lambda-exec'), ours(acct)), req(userArn(acct, 'auditor'), ours(acct)), req(roleArn(acct, 'app-deployer'), ours(acct)), req(userArn(acct, 'ci-bot'), ours(acct))]) {
      await iamPermissionsBoundary.facts(ctx, r);
      await iamPermissionsBoundary.revoke(ctx, r, await grantAll(r));
    }
    expect(userBoundary(acct, 'auditor')).toBe(READ_ONLY);
    expect(await codeOf(iamPermissionsBoundary.facts(accessContextFor(sim, { type: 'aws-account' }), req(userArn('111111111111', 'auditor'), READ_ONLY)))).toBe('ACCESS_REFUSED');
    expect(usedActions()).toEqual([...iamPermissionsBoundary.requiredActions].sort());
  });
});
