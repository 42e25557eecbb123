// iam.roleAssume against the AWS simulator: the exact trust statement, revoke leaving every
// other statement as it was, the revoked-sessions deny, the trust size quota, protected
// roles, the management account, and hostile input refused before any AWS call.
import { IAMClient, LimitExceededException, MalformedPolicyDocumentException, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { principalHash, roleSessionNameFor } from '../../src/access/iam-common.js';
import { iamRoleAssume, REVOKED_SESSIONS_POLICY } from '../../src/access/kinds/iam-role-assume.js';
import type { AccessContext, AccessRequest } from '../../src/access/types.js';
import { ConnectorError } from '../../src/errors.js';
import { accessContextFor, codeOf, entryPoints } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { assume, cfg, failure, management, member } from '../sim-aws/helpers.js';

type Target = { roleArn: string };
const roleArn = (acct: string, name: string, path = '/') => `arn:aws:iam::${acct}:role${path}${name}`;
const userArn = (acct: string, name: string) => `arn:aws:iam::${acct}:user/${name}`;
const HOUR = 3_600_000;
/** The tag that opts a role in for just-in-time access (src/access/opt-in.ts). */
const OPTED_IN = { 'access-connector-jit': 'enabled' };
const inAnHour = () => new Date(Date.now() + HOUR).toISOString();

function req(principalId: string, target: Target, o: Partial<AccessRequest<Target>> = {}): AccessRequest<Target> {
  return { grantId: 'g-1', accessKind: 'iam.roleAssume', principal: { type: principalId.includes(':role/') ? 'role' : 'user', id: principalId }, target, expiresAt: inAnHour(), ...o };
}

/** Every entry point of the kind, called one at a time. */
const steps = (c: AccessContext, r: AccessRequest<Target>) => entryPoints(iamRoleAssume, c, r);


describe('iam.roleAssume', () => {
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

  const trustOf = (acct: string, role: string) => JSON.parse(sim.admin.getRole({ accountId: acct, roleName: role })!.trustPolicy as string) as { Statement: Record<string, unknown>[] };
  const inlineOf = (acct: string, role: string) => (sim.admin.getRole({ accountId: acct, roleName: role })!.inline as Record<string, string>);
  const roleIdOf = (acct: string, role: string) => sim.world.accounts.get(acct)!.iam.roles.get(role)!.id;
  const orgId = () => sim.world.organization!.id;

  /** What the runner does on a first grant: describe, then grant, keeping both results. */
  async function grantAll(c: AccessContext, r: AccessRequest<Target>): Promise<Record<string, unknown>> {
    const before = await iamRoleAssume.describe(c, r);
    expect(before.present).toBe(false);
    const kept = await iamRoleAssume.grant(c, r, before);
    return { ...before.observed, ...(kept ?? {}) };
  }

  test('facts: the role account, the role and its managed policies', async () => {
    const r = req(userArn('333333333301', 'ci-bot'), { roleArn: roleArn('444444444401', 'app-deployer') });
    expect(await iamRoleAssume.facts(ctx, r)).toEqual({
      accountIds: ['444444444401'], roles: [roleArn('444444444401', 'app-deployer')], managedPolicies: ['arn:aws:iam::444444444401:policy/DeployPolicy'],
    });
  });

  test('grant adds exactly one statement of the specified shape; describe sees it; revoke restores the trust policy', async () => {
    const acct = '444444444401';
    const principal = userArn('333333333301', 'ci-bot');
    const original = trustOf(acct, 'app-deployer');
    const expiresAt = '2031-05-06T07:08:09.999Z';
    const r = req(principal, { roleArn: roleArn(acct, 'app-deployer') }, { expiresAt });
    const hash = principalHash(principal);

    const before = await iamRoleAssume.describe(ctx, r);
    expect(before).toEqual({ present: false, observed: { roleId: roleIdOf(acct, 'app-deployer'), preExistingTrust: false } });
    const kept = await iamRoleAssume.grant(ctx, r, before);
    expect(kept).toEqual({ roleId: roleIdOf(acct, 'app-deployer'), sessionName: `ac-${hash}`, organizationId: orgId(), expiresAt: '2031-05-06T07:08:09Z' });

    const after = trustOf(acct, 'app-deployer');
    expect(after.Statement).toHaveLength(original.Statement.length + 1);
    expect(after.Statement.slice(0, -1)).toEqual(original.Statement);
    expect(after.Statement.at(-1)).toEqual({
      Sid: `AccessConnector${hash}`,
      Effect: 'Allow',
      Principal: { AWS: principal },
      Action: 'sts:AssumeRole',
      Condition: {
        DateLessThan: { 'aws:CurrentTime': '2031-05-06T07:08:09Z' },
        StringEquals: { 'aws:PrincipalOrgID': orgId(), 'sts:RoleSessionName': `ac-${hash}` },
      },
    });
    expect(roleSessionNameFor(principal)).toMatch(/^ac-[0-9a-f]{16}$/);
    expect(await iamRoleAssume.describe(ctx, r)).toEqual({ present: true, observed: { roleId: roleIdOf(acct, 'app-deployer'), preExistingTrust: false, expiresAt: '2031-05-06T07:08:09Z' } });

    // A repeated grant replaces its own statement, never adds a second one.
    await iamRoleAssume.grant(ctx, r, before);
    expect(trustOf(acct, 'app-deployer').Statement).toHaveLength(original.Statement.length + 1);

    const out = await iamRoleAssume.revoke(ctx, r, { ...before.observed, ...kept });
    expect(trustOf(acct, 'app-deployer')).toEqual(original);
    expect(out?.notes?.[0]).toMatch(/^sessions issued under the grant before .* are denied/);
    expect(await iamRoleAssume.describe(ctx, r)).toEqual({ present: false, observed: { roleId: roleIdOf(acct, 'app-deployer'), preExistingTrust: false } });
    // Revoke of what is gone: success.
    expect((await iamRoleAssume.revoke(ctx, r, { ...before.observed, ...kept }))?.notes).toContain('the trust statement was already gone');
    expect(trustOf(acct, 'app-deployer')).toEqual(original);
  });

  test('revoke leaves every other statement deep-equal: arrays, strings, conditions, a single Statement object', async () => {
    const acct = '444444444402';
    const complex = {
      Version: '2012-10-17',
      Id: 'keep-me',
      Statement: [
        { Sid: 'Ext', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::333333333302:root', roleArn('333333333303', 'OrganizationAccountAccessRole')] },
          Action: ['sts:AssumeRole', 'sts:TagSession'], Condition: { StringEquals: { 'sts:ExternalId': ['a', 'b'] }, Bool: { 'aws:MultiFactorAuthPresent': 'true' } } },
        { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' },
        { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole', Condition: { StringNotEqualsIfExists: { 'aws:PrincipalOrgID': ['o-aaaaaaaaaa', 'o-bbbbbbbbbb'] } } },
        { Effect: 'Allow', Principal: { Federated: 'cognito-identity.amazonaws.com' }, Action: 'sts:AssumeRoleWithWebIdentity', Condition: { 'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' } } },
      ],
    };
    sim.admin.setTrustPolicy({ accountId: acct, roleName: 'app-deployer', document: JSON.stringify(complex, null, 2) });
    const r = req(roleArn('333333333301', 'OrganizationAccountAccessRole'), { roleArn: roleArn(acct, 'app-deployer') });
    const kept = await grantAll(ctx, r);
    const granted = trustOf(acct, 'app-deployer');
    expect({ ...granted, Statement: granted.Statement.slice(0, -1) }).toEqual(complex);
    await iamRoleAssume.revoke(ctx, r, kept);
    expect(trustOf(acct, 'app-deployer')).toEqual(complex);

    // IAM's grammar also allows one statement object: it comes back as a one-element array (same meaning).
    const single = { Version: '2012-10-17', Statement: { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:root` }, Action: 'sts:AssumeRole' } };
    sim.admin.setTrustPolicy({ accountId: acct, roleName: 'app-deployer', document: single });
    const kept2 = await grantAll(ctx, r);
    await iamRoleAssume.revoke(ctx, r, kept2);
    expect(trustOf(acct, 'app-deployer')).toEqual({ ...single, Statement: [single.Statement] });
  });

  test('preExistingTrust: only an unconditional Allow of exactly this principal counts', async () => {
    const acct = '444444444403';
    const principal = userArn('333333333301', 'breakglass');
    const r = req(principal, { roleArn: roleArn(acct, 'app-deployer') });
    const withTrust = (st: Record<string, unknown>) => sim.admin.setTrustPolicy({ accountId: acct, roleName: 'app-deployer', document: { Version: '2012-10-17', Statement: [st] } });
    const observed = async () => (await iamRoleAssume.describe(ctx, r)).observed?.preExistingTrust;

    withTrust({ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' });
    expect(await observed()).toBe(true);
    withTrust({ Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::333333333302:root', principal] }, Action: ['sts:TagSession', 'sts:*'] });
    expect(await observed()).toBe(true);
    withTrust({ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole', Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } } });
    expect(await observed()).toBe(false);
    withTrust({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::333333333301:root' }, Action: 'sts:AssumeRole' });
    expect(await observed()).toBe(false);
    withTrust({ Effect: 'Deny', Principal: { AWS: principal }, Action: 'sts:AssumeRole' });
    expect(await observed()).toBe(false);

    // Pre-existing trust: revoke removes our statement but leaves the principal's sessions alone.
    withTrust({ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' });
    const kept = await grantAll(ctx, r);
    expect(kept.preExistingTrust).toBe(true);
    const out = await iamRoleAssume.revoke(ctx, r, kept);
    expect(trustOf(acct, 'app-deployer').Statement).toEqual([{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' }]);
    expect(inlineOf(acct, 'app-deployer')[REVOKED_SESSIONS_POLICY]).toBeUndefined();
    expect(out?.notes).toContain('sessions were left alone: the principal was trusted by the role before the grant');
  });

  test('extend pushes the expiry out, never in; re-adds a statement someone removed', async () => {
    const acct = '444444444404';
    const principal = userArn('333333333301', 'auditor');
    const target = { roleArn: roleArn(acct, 'app-deployer') };
    const kept = await grantAll(ctx, req(principal, target, { expiresAt: '2030-01-01T00:00:00Z' }));
    const expiry = () => (trustOf(acct, 'app-deployer').Statement.at(-1)!.Condition as { DateLessThan: Record<string, string> }).DateLessThan['aws:CurrentTime'];

    expect(await iamRoleAssume.extend!(ctx, req(principal, target, { expiresAt: '2030-06-01T00:00:00Z' }), kept)).toEqual({ expiresAt: '2030-06-01T00:00:00Z' });
    expect(expiry()).toBe('2030-06-01T00:00:00Z');
    expect(await iamRoleAssume.extend!(ctx, req(principal, target, { expiresAt: '2030-02-01T00:00:00Z' }), kept)).toEqual({ expiresAt: '2030-06-01T00:00:00Z' });
    expect(expiry()).toBe('2030-06-01T00:00:00Z');

    const original = trustOf(acct, 'app-deployer');
    sim.admin.setTrustPolicy({ accountId: acct, roleName: 'app-deployer', document: { ...original, Statement: original.Statement.slice(0, -1) } });
    await iamRoleAssume.extend!(ctx, req(principal, target, { expiresAt: '2030-03-01T00:00:00Z' }), kept);
    expect(trustOf(acct, 'app-deployer').Statement).toHaveLength(original.Statement.length);
    expect(expiry()).toBe('2030-03-01T00:00:00Z');
    await iamRoleAssume.revoke(ctx, req(principal, target), kept);
  });

  test('revoked sessions: one Deny per principal on aws:TokenIssueTime and aws:userid, merged, pruned past MaxSessionDuration, deleted when empty', async () => {
    const acct = '444444444405';
    const target = { roleArn: roleArn(acct, 'app-deployer') };
    const roleId = roleIdOf(acct, 'app-deployer');
    const a = userArn('333333333301', 'ci-bot');
    const b = userArn('333333333302', 'ci-bot');
    const t0 = Date.parse('2030-01-01T10:00:00.200Z');
    const at = (t: number): AccessContext => ({ ...ctx, now: () => t });
    const policy = () => {
      const raw = inlineOf(acct, 'app-deployer')[REVOKED_SESSIONS_POLICY];
      return raw === undefined ? undefined : JSON.parse(raw) as { Version: string; Statement: unknown[] };
    };
    const entry = (who: string, time: string) => ({
      Sid: `Revoked${principalHash(who)}`, Effect: 'Deny', Action: '*', Resource: '*',
      Condition: { DateLessThan: { 'aws:TokenIssueTime': time }, StringLike: { 'aws:userid': `${roleId}:${roleSessionNameFor(who)}` } },
    });

    const keptA = await grantAll(ctx, req(a, target));
    await iamRoleAssume.revoke(at(t0), req(a, target), keptA);
    // Rounded up to the second: a session issued earlier in the same second is covered.
    expect(policy()).toEqual({ Version: '2012-10-17', Statement: [entry(a, '2030-01-01T10:00:01Z')] });
    // The role's other inline policy is untouched.
    expect(inlineOf(acct, 'app-deployer')['extra-s3']).toBeDefined();

    const keptB = await grantAll(ctx, req(b, target));
    await iamRoleAssume.revoke(at(t0 + 10 * 60_000), req(b, target), keptB);
    expect(policy()?.Statement).toEqual([entry(a, '2030-01-01T10:00:01Z'), entry(b, '2030-01-01T10:10:01Z')]);

    // A second revoke of A replaces A's entry with the later time.
    await iamRoleAssume.revoke(at(t0 + 20 * 60_000), req(a, target), keptA);
    expect(policy()?.Statement).toEqual([entry(b, '2030-01-01T10:10:01Z'), entry(a, '2030-01-01T10:20:01Z')]);

    // MaxSessionDuration is one hour: 1h15 later B's entry can match no live session.
    await iamRoleAssume.revoke(at(t0 + 75 * 60_000), req(a, target), keptA);
    expect(policy()?.Statement).toEqual([entry(a, '2030-01-01T11:15:01Z')]);

    // Nothing left to deny (pre-existing trust adds no entry, the old one expired): the policy is deleted.
    await iamRoleAssume.revoke(at(t0 + 3 * HOUR), req(a, target), { ...keptA, preExistingTrust: true });
    expect(policy()).toBeUndefined();
  });

  test('end to end: the principal assumes the role only with the session name and only until revoke', async () => {
    const acct = '444444444402';
    const target = roleArn(acct, 'app-deployer');
    sim.admin.setTrustPolicy({ accountId: acct, roleName: 'app-deployer', document: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:root` }, Action: 'sts:AssumeRole' }] } });
    const principal = roleArn('333333333302', 'OrganizationAccountAccessRole');
    const asPrincipal = await assume(sim, await management(sim), principal);
    const r = req(principal, { roleArn: target }, { expiresAt: new Date(Date.now() + 10 * 60_000).toISOString() });
    const name = roleSessionNameFor(principal);

    expect((await failure(assume(sim, asPrincipal, target, undefined, name))).name).toBe('AccessDenied');
    const kept = await grantAll(ctx, r);
    const session = await assume(sim, asPrincipal, target, undefined, name);
    expect(session.accessKeyId).toMatch(/^ASIA/);
    expect((await failure(assume(sim, asPrincipal, target, undefined, 'my-session'))).name).toBe('AccessDenied');
    const details = iamRoleAssume.accessDetails(ctx, r);
    expect(details.command).toBe(`aws sts assume-role --role-arn ${target} --role-session-name ${name}`);
    expect(details.roleArn).toBe(target);
    expect(details.instructions).toContain(name);

    // Past expiresAt the trust statement no longer matches, revoke or not. (The simulator's
    // clock only ever moves forward: its rate limits refill by it.)
    sim.admin.advanceClock({ ms: 11 * 60_000 });
    expect((await failure(assume(sim, asPrincipal, target, undefined, name))).name).toBe('AccessDenied');
    await iamRoleAssume.revoke(ctx, r, kept);
    expect((await failure(assume(sim, asPrincipal, target, undefined, name))).name).toBe('AccessDenied');
  });

  test('trust policy size quota → TRUST_POLICY_TOO_LARGE with sizes and the limit; the trust is unchanged', async () => {
    const acct = '333333333304';
    const filler = { Version: '2012-10-17', Statement: Array.from({ length: 17 }, (_, i) => ({ Sid: `S${i}`, Effect: 'Allow', Principal: { AWS: `arn:aws:iam::33333333330${i % 6 + 1}:root` }, Action: 'sts:AssumeRole' })) };
    expect(JSON.stringify(filler).length).toBeGreaterThan(1700);
    expect(JSON.stringify(filler).length).toBeLessThan(2048);
    sim.admin.createRole({ accountId: acct, roleName: 'crowded', trust: filler, tags: OPTED_IN });
    const r = req(userArn('333333333301', 'ci-bot'), { roleArn: roleArn(acct, 'crowded') });
    const before = await iamRoleAssume.describe(ctx, r);
    sim.stats.reset();
    const err = await failure(iamRoleAssume.grant(ctx, r, before)) as ConnectorError;
    // Regression: the SDK counts IAM's LimitExceededException as throttling and would resend it 8 times.
    expect(sim.stats.snapshot().byOperation['iam:UpdateAssumeRolePolicy']?.calls).toBe(1);
    expect(err).toBeInstanceOf(ConnectorError);
    expect(err.code).toBe('TRUST_POLICY_TOO_LARGE');
    expect(err.message).toContain(`from ${JSON.stringify(filler).length} to `);
    expect(err.message).toContain('Cannot exceed quota for ACLSizePerRole: 2048');
    expect(err.message).toContain('quota of 2048');
    expect(trustOf(acct, 'crowded')).toEqual(filler);
  });

  test('simulator: the trust quota counts no white space, answers AWS\'s errors for size, bad JSON and bad Sids', async () => {
    const acct = '333333333305';
    const iam = new IAMClient(cfg(sim, await member(sim, acct)));
    const doc = (n: number) => ({ Version: '2012-10-17', Statement: Array.from({ length: n }, (_, i) => ({ Sid: `S${i}`, Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:root` }, Action: 'sts:AssumeRole' })) });
    const pretty = JSON.stringify(doc(18), null, 8);
    expect(pretty.length).toBeGreaterThan(2048);
    expect(JSON.stringify(doc(18)).length).toBeLessThanOrEqual(2048);
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: pretty }));
    expect(sim.admin.getRole({ accountId: acct, roleName: 'app-deployer' })!.trustPolicy).toBe(pretty);

    const tooBig = await failure(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: JSON.stringify(doc(40)) })));
    expect(tooBig).toBeInstanceOf(LimitExceededException);
    expect(tooBig.message).toBe('Cannot exceed quota for ACLSizePerRole: 2048');
    expect(tooBig.$metadata?.httpStatusCode).toBe(409);
    const bad = await failure(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: '{"Statement": [' })));
    expect(bad).toBeInstanceOf(MalformedPolicyDocumentException);
    expect(bad.message).toBe('This policy contains invalid Json');
    const sid = await failure(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: JSON.stringify({ ...doc(1), Statement: [{ ...doc(1).Statement[0], Sid: 'Access-Connector' }] }) })));
    expect(sid.message).toBe('Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*');
    const dup = await failure(iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: 'app-deployer', PolicyDocument: JSON.stringify({ ...doc(2), Statement: doc(2).Statement.map((s) => ({ ...s, Sid: 'Same' })) }) })));
    expect(dup.message).toBe('Statement IDs (SID) in a single policy must be unique.');
    expect(sim.admin.getRole({ accountId: acct, roleName: 'app-deployer' })!.trustPolicy).toBe(pretty);
  });

  test('expiresAt is required and must be a date; refused before any AWS call', async () => {
    const r = req(userArn('333333333301', 'ci-bot'), { roleArn: roleArn('444444444401', 'app-deployer') });
    const { expiresAt: _e, ...noExpiry } = r;
    sim.stats.reset();
    expect(await codeOf(iamRoleAssume.facts(ctx, noExpiry))).toBe('JOB_PARAMS_INVALID');
    expect(await codeOf(iamRoleAssume.grant(ctx, noExpiry, { present: false }))).toBe('JOB_PARAMS_INVALID');
    expect(await codeOf(iamRoleAssume.grant(ctx, { ...r, expiresAt: 'next tuesday' }, { present: false }))).toBe('JOB_PARAMS_INVALID');
    expect(sim.stats.snapshot().total.calls).toBe(0);
  });

  // Regression: any role's trust policy was rewritten; a role must be opted in by its tag first.
  test('a role not opted in (no access-connector-jit=enabled tag) is refused in facts with ROLE_NOT_OPTED_IN, before any write; JIT_ROLES=any allows it', async () => {
    const r = req(userArn('333333333301', 'ci-bot'), { roleArn: roleArn('444444444401', 'lambda-exec') });
    sim.stats.reset();
    const err = await iamRoleAssume.facts(ctx, r).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectorError);
    expect((err as ConnectorError).code).toBe('ROLE_NOT_OPTED_IN');
    expect((err as Error).message).toContain('aws iam tag-role --role-name lambda-exec --tags Key=access-connector-jit,Value=enabled');
    const writes = Object.keys(sim.stats.snapshot().byOperation).filter((k) => /Put|Update|Delete/.test(k));
    expect(writes).toEqual([]);
    const any = { ...ctx, settings: { ...ctx.settings, jitRoles: 'any' as const } };
    expect((await iamRoleAssume.facts(any, r)).roles).toEqual([roleArn('444444444401', 'lambda-exec')]);
  });

  test('protected roles are refused, each rule, whatever the case of the name', async () => {
    const acct = '333333333306';
    sim.admin.createRole({ accountId: acct, roleName: 'plain-name', path: '/aws-reserved/custom/' });
    const reserved = [...sim.world.accounts.get(acct)!.iam.roles.values()].find((x) => x.name.startsWith('AWSReservedSSO_'))!;
    const principal = userArn('333333333301', 'ci-bot');
    const arns = [
      roleArn(acct, reserved.name, reserved.path),
      roleArn(acct, reserved.name), // the ARN leaving the path out does not escape the name rule
      roleArn(acct, 'AWSServiceRoleForSSO', '/aws-service-role/sso.amazonaws.com/'),
      roleArn(acct, 'plain-name', '/aws-reserved/custom/'),
      roleArn(acct, 'OrganizationAccountAccessRole'),
      roleArn(acct, 'organizationaccountaccessrole'),
      roleArn(acct, 'AccessConnectorMember'),
      roleArn(acct, 'AccessConnectorManagement'),
    ];
    for (const arn of arns) {
      const r = req(principal, { roleArn: arn });
      sim.stats.reset();
      for (const step of steps(ctx, r)) {
        expect({ arn, code: await codeOf(step()) }).toEqual({ arn, code: 'ROLE_PROTECTED' });
      }
      expect({ arn, calls: sim.stats.snapshot().total.calls }).toEqual({ arn, calls: 0 });
    }
    // Roles named in the connector's settings too.
    const custom = { ...ctx, settings: { ...ctx.settings, connectorRoleNames: ['app-deployer'] } };
    expect(await codeOf(iamRoleAssume.facts(custom, req(principal, { roleArn: roleArn(acct, 'app-deployer') })))).toBe('ROLE_PROTECTED');
    // The real path counts even when the ARN hides it: that ARN is not the role's.
    expect(await codeOf(iamRoleAssume.facts(ctx, req(principal, { roleArn: roleArn(acct, 'AWSServiceRoleForSSO') })))).toBe('AWS_NOT_FOUND');
    expect(JSON.parse(sim.admin.getRole({ accountId: acct, roleName: 'OrganizationAccountAccessRole' })!.trustPolicy as string).Statement).toHaveLength(1);
  });

  test('the management account only with allowManagementAccount; excluded accounts never', async () => {
    const mgmt = '111111111111';
    const r = req(userArn('333333333301', 'ci-bot'), { roleArn: roleArn(mgmt, 'app-deployer') });
    sim.stats.reset();
    const err = await failure(iamRoleAssume.facts(ctx, r));
    expect((err as ConnectorError).code).toBe('ACCESS_REFUSED');
    expect(err.message).toContain('allowManagementAccount');
    expect(sim.stats.snapshot().total.calls).toBe(0);
    const allowed = accessContextFor(sim, { allowManagementAccount: true });
    expect((await iamRoleAssume.facts(allowed, r)).accountIds).toEqual([mgmt]);
    const excluding = accessContextFor(sim, { excludeAccountIds: ['444444444401'] });
    expect(await codeOf(iamRoleAssume.facts(excluding, req(userArn('333333333301', 'ci-bot'), { roleArn: roleArn('444444444401', 'app-deployer') })))).toBe('ACCESS_REFUSED');
  });

  test('an aws-account integration: only its own account, and only when it is in an organization', async () => {
    const base = '999999999999';
    sim.admin.setRolePermissions({ accountId: base, roleName: 'ConnectorTaskRole', allow: ['sts:AssumeRole', 'dynamodb:*', 'iam:*', 'organizations:DescribeOrganization'] });
    sim.admin.createRole({ accountId: base, roleName: 'outside-role', tags: OPTED_IN });
    sim.admin.createUser({ accountId: base, userName: 'outside-user' });
    const single = accessContextFor(sim, { type: 'aws-account', roleArn: undefined, externalId: undefined });
    const r = req(userArn(base, 'outside-user'), { roleArn: roleArn(base, 'outside-role') });
    const before = await iamRoleAssume.describe(single, r);
    const err = await failure(iamRoleAssume.grant(single, r, before));
    expect((err as ConnectorError).code).toBe('ACCESS_REFUSED');
    expect(err.message).toContain('aws:PrincipalOrgID');
    expect(trustOf(base, 'outside-role').Statement).toHaveLength(1);
    expect(await codeOf(iamRoleAssume.facts(single, req(userArn(base, 'outside-user'), { roleArn: roleArn('444444444401', 'app-deployer') })))).toBe('ACCESS_REFUSED');
  });

  test('hostile input is rejected before any AWS call', async () => {
    const good = { principal: userArn('333333333301', 'ci-bot'), role: roleArn('444444444401', 'app-deployer') };
    const hostileRoles = [
      `${good.role}"}],"Effect":"Allow","Principal":"*`,
      'arn:aws:iam::444444444401:role/../../app-deployer',
      'arn:aws:iam::444444444401:role/./app-deployer',
      'arn:aws:iam::444444444401:role/app deployer',
      'arn:aws:iam::444444444401:role/app-deployer;rm -rf /',
      'arn:aws:iam::444444444401:role/$(id)',
      `arn:aws:iam::444444444401:role/${'a'.repeat(5000)}`,
      `arn:aws:iam::444444444401:role/${'p/'.repeat(300)}app-deployer`,
      'arn:aws:iam::44444444440:role/app-deployer',
      'arn:aws:iam::aws:role/app-deployer',
      'arn:aws-iso:iam::444444444401:role/app-deployer',
      'arn:aws:iam::444444444401:user/ci-bot',
      'arn:aws:iam::444444444401:role/app-deployer\n',
      'arn:aws:iam::444444444401:role/',
    ];
    const hostilePrincipals = [
      `${good.principal}"}`,
      'arn:aws:iam::333333333301:user/../ci-bot',
      'arn:aws:iam::333333333301:user/ci bot',
      `arn:aws:iam::333333333301:user/${'u'.repeat(5000)}`,
      'arn:aws:iam::333333333301:group/Operators',
      'arn:aws:sts::333333333301:assumed-role/x/y',
      '*',
    ];
    sim.stats.reset();
    for (const roleArnValue of hostileRoles) {
      expect({ roleArnValue, ok: iamRoleAssume.target.safeParse({ roleArn: roleArnValue }).success }).toEqual({ roleArnValue, ok: false });
      const r = req(good.principal, { roleArn: roleArnValue });
      for (const step of steps(ctx, r)) {
        expect({ roleArnValue, code: await codeOf(step()) }).toEqual({ roleArnValue, code: 'JOB_PARAMS_INVALID' });
      }
      expect(iamRoleAssume.accessDetails(ctx, r).command).toBeUndefined();
    }
    for (const id of hostilePrincipals) {
      expect({ id, bad: typeof iamRoleAssume.checkPrincipal!({ type: 'user', id }) }).toEqual({ id, bad: 'string' });
      const r = { ...req(good.principal, { roleArn: good.role }), principal: { type: 'user' as const, id } };
      expect({ id, code: await codeOf(iamRoleAssume.grant(ctx, r, { present: false })) }).toEqual({ id, code: 'JOB_PARAMS_INVALID' });
    }
    // principal.type must match the ARN, and a group is never a principal.
    expect(iamRoleAssume.checkPrincipal!({ type: 'role', id: good.principal })).toMatch(/must be an IAM role ARN/);
    expect(iamRoleAssume.checkPrincipal!({ type: 'group', id: 'arn:aws:iam::333333333301:group/Operators' })).toBe('principal.type must be user or role');
    expect(iamRoleAssume.target.safeParse({ roleArn: good.role, extra: 1 }).success).toBe(false);
    expect(sim.stats.snapshot().total.calls).toBe(0);
    // And the good ones pass.
    expect(iamRoleAssume.target.safeParse({ roleArn: good.role }).success).toBe(true);
    expect(iamRoleAssume.checkPrincipal!({ type: 'user', id: good.principal })).toBeUndefined();
    expect(iamRoleAssume.accessKey(req(good.principal, { roleArn: good.role }))).toBe(`${good.role}|${good.principal}`);
    expect(iamRoleAssume.lockKey!(req(good.principal, { roleArn: good.role }))).toBe(good.role);
  });

  test('a role that no longer exists: revoke succeeds with a note; facts say AWS_NOT_FOUND', async () => {
    const acct = '333333333303';
    sim.admin.createRole({ accountId: acct, roleName: 'short-lived', tags: OPTED_IN });
    const r = req(userArn('333333333301', 'ci-bot'), { roleArn: roleArn(acct, 'short-lived') });
    const kept = await grantAll(ctx, r);
    sim.admin.deleteRole({ accountId: acct, roleName: 'short-lived' });
    expect((await iamRoleAssume.revoke(ctx, r, kept))?.notes).toEqual([`role ${roleArn(acct, 'short-lived')} no longer exists; nothing to remove`]);
    expect(await codeOf(iamRoleAssume.facts(ctx, r))).toBe('AWS_NOT_FOUND');
  });

  test('a principal that does not exist: AWS rejects the trust policy and nothing changes', async () => {
    const acct = '333333333303';
    const original = trustOf(acct, 'app-deployer');
    const r = req(userArn('333333333301', 'nobody'), { roleArn: roleArn(acct, 'app-deployer') });
    const err = await failure(iamRoleAssume.grant(ctx, r, await iamRoleAssume.describe(ctx, r)));
    expect((err as ConnectorError).code).toBe('AWS_NOT_FOUND');
    expect(err.message).toContain('Invalid principal in policy');
    expect(trustOf(acct, 'app-deployer')).toEqual(original);
  });

  const usedActions = () => Object.keys(sim.stats.snapshot().byOperation).filter((k) => !k.startsWith('sts:')).sort();

  test('requiredActions are exactly the AWS actions the kind calls', async () => {
    const acct = '333333333302';
    const r = req(userArn('333333333301', 'ci-bot'), { roleArn: roleArn(acct, 'app-deployer') });
    const fresh = accessContextFor(sim);
    sim.stats.reset();
    await iamRoleAssume.facts(fresh, r);
    const kept = await grantAll(fresh, r);
    await iamRoleAssume.extend!(fresh, { ...r, expiresAt: new Date(Date.now() + 2 * HOUR).toISOString() }, kept);
    await iamRoleAssume.revoke(fresh, r, kept);
    await iamRoleAssume.revoke({ ...fresh, now: () => Date.now() + 3 * HOUR }, r, { ...kept, preExistingTrust: true });
    expect(inlineOf(acct, 'app-deployer')[REVOKED_SESSIONS_POLICY]).toBeUndefined();
    expect(usedActions()).toEqual([...iamRoleAssume.requiredActions].sort());
  });
});
