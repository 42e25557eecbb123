// sso.user against the AWS simulator, through the runner and its ledger: a user created by
// a grant and deleted by its revoke; one that existed before is pre-existing and never
// deleted; overlapping grants share one user; a user that still holds access is left in
// place; an external identity source refuses the kind unless the policy file allows it;
// hostile input is refused before any AWS call.
import { ssoUser } from '../../src/access/kinds/sso-user.js';
import { accessParamsSchema } from '../../src/access/params.js';
import { runGrant, runRevoke, type AccessDeps } from '../../src/access/run-access.js';
import { sweepOnce } from '../../src/access/sweeper.js';
import type { AccessRequest } from '../../src/access/types.js';
import { AwsRuntime } from '../../src/aws/runtime.js';
import type { ConnectorError } from '../../src/errors.js';
import { policySchema, type Policy } from '../../src/policy/schema.js';
import { integrationSchema, type Integration } from '../../src/protocol/messages.js';
import { accessContextFor, codeOf, entryPoints } from '../helpers/access.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { testAccessDeps, testAccessJob } from '../helpers/access-deps.js';
import { captureLog } from '../helpers/log.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { demoIntegration } from '../sim/aws/worlds/demo.js';

type Target = { displayName: string; givenName: string; familyName: string; email?: string };
const person = (given: string, family: string): Target => ({ displayName: `${given} ${family}`, givenName: given, familyName: family });

function req(name: string, grantId: string, target: Target = person('Zoe', 'Zhang')): AccessRequest<Target> {
  return { grantId, accessKind: 'sso.user', principal: { type: 'user', id: name }, target };
}

describe('sso.user', () => {
  let sim: AwsSimulator;
  let restore: () => void;
  let integration: Integration;
  let clock = Date.now();
  const runtimes: AwsRuntime[] = [];
  const logs = captureLog('debug');

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo', quotas: false, sso: { assignmentDelayMs: 0 } });
    restore = useAwsEnv(sim.env);
    integration = integrationSchema.parse(demoIntegration({ ssoPortalUrl: 'https://d-1234567890.awsapps.com/start' }));
  });
  afterAll(async () => {
    for (const r of runtimes) r.destroy();
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  const deps = (policy?: Policy): AccessDeps =>
    testAccessDeps({ runtimes, log: logs.log, now: () => clock, maxAttempts: 2, ...(policy && { config: { policy } }) });
  const job = (d: AccessDeps, r: AccessRequest<Target>, expiresAt?: string) => testAccessJob(d, integration, r, expiresAt);
  const users = () => [...sim.world.sso!.users.values()];
  const named = (name: string) => users().filter((u) => u.UserName.toLowerCase() === name.toLowerCase());
  const calls = (op: string) => sim.stats.snapshot().byOperation[op]?.calls ?? 0;

  test('grant creates the user, a repeat is a no-op, revoke deletes it; the ledger keeps its id', async () => {
    const d = deps();
    const r = req('zoe@example.com', 'g-zoe', { ...person('Zoe', 'Zhang'), email: 'zoe@example.com' });
    expect(await runGrant(d, job(d, r))).toMatchObject({ state: 'granted', preExisting: false });
    const [zoe] = named('zoe@example.com');
    expect([zoe?.DisplayName, zoe?.Name.GivenName, zoe?.Name.FamilyName, zoe?.Emails[0]?.Value, zoe?.ExternalIds]).toEqual(['Zoe Zhang', 'Zoe', 'Zhang', 'zoe@example.com', undefined]);
    expect((await d.ledger!.getAccess(ssoUser.accessKey(r)))!.kept).toEqual({ userId: zoe!.UserId });
    sim.stats.reset();
    expect(await runGrant(d, job(d, r))).toMatchObject({ state: 'granted', note: 'already granted' });
    expect(calls('identitystore:CreateUser')).toBe(0);
    expect(named('zoe@example.com')).toHaveLength(1);
    expect(await runRevoke(d, { ...job(d, r), origin: 'job' })).toMatchObject({ state: 'revoked', preExisting: false });
    expect(named('zoe@example.com')).toEqual([]);
    expect(await runRevoke(d, { ...job(d, r), origin: 'job' })).toMatchObject({ state: 'revoked', note: 'already revoked' });
  });

  test('enableAudit: the revoke lists the user\'s own events, found in the management account in Identity Center\'s region', async () => {
    const d = deps();
    const r = req('uma@example.com', 'g-uma', person('Uma', 'Ueda'));
    // The integration's region is not Identity Center's: sign-in events are only in the latter.
    const audited = integrationSchema.parse({ ...integration, enableAudit: true, region: 'eu-west-1', ssoRegion: 'us-east-1' });
    const mgmt = integration.roleArn!.split(':')[4]!;
    await runGrant(d, { ...job(d, r), integration: audited });
    sim.admin.addTrailEvent({ accountId: mgmt, region: 'us-east-1', eventName: 'Authenticate', eventSource: 'sso.amazonaws.com', username: 'uma@example.com', eventTime: clock + 1000 });
    // The same user name elsewhere is not the grant's: another region, another account.
    sim.admin.addTrailEvent({ accountId: mgmt, region: 'eu-west-1', eventName: 'Federate', eventSource: 'sso.amazonaws.com', username: 'uma@example.com', eventTime: clock + 1000 });
    sim.admin.addTrailEvent({ accountId: '333333333301', region: 'eu-west-1', eventName: 'GetObject', eventSource: 's3.amazonaws.com', username: 'uma@example.com', eventTime: clock + 1000 });
    // An IAM user or role session of the same name in the management account is someone else.
    sim.admin.addTrailEvent({ accountId: mgmt, region: 'us-east-1', eventName: 'DeleteTrail', eventSource: 'cloudtrail.amazonaws.com', username: 'uma@example.com', eventTime: clock + 1000 });
    clock += 5000;
    const out = await runRevoke(d, { ...job(d, r), integration: audited, origin: 'job' });
    expect(out.audit).toMatchObject({ truncated: false });
    expect(out.audit?.events.map((e) => [e.eventName, e.accountId, e.region])).toEqual([['Authenticate', mgmt, 'us-east-1']]);
  });

  test('a server error on CreateUser leaves the grant pending and holding; the retry creates the user as its own', async () => {
    const d = deps();
    const r = req('tara@example.com', 'g-tara', person('Tara', 'Tan'));
    sim.faults.serverErrors({ service: 'identitystore', operation: 'CreateUser' });
    try {
      await expect(runGrant(d, job(d, r))).rejects.toMatchObject({ code: 'ACCESS_UNCONFIRMED' });
    } finally {
      sim.faults.clear();
    }
    const g = (await d.ledger!.getGrant('g-tara'))!;
    expect([g.state, (await d.ledger!.getAccess(g.accessKey))!.holders]).toEqual(['pending', ['g-tara']]);
    expect(await runGrant(d, job(d, r))).toMatchObject({ state: 'granted', preExisting: false });
    const tara = named('tara@example.com')[0]!;
    expect((await d.ledger!.getAccess(g.accessKey))!.kept).toEqual({ userId: tara.UserId });
    await runRevoke(d, { ...job(d, r), origin: 'job' });
    expect(named('tara@example.com')).toEqual([]);
  });

  test('a user that existed before (in another case) is pre-existing and survives the revoke', async () => {
    const d = deps();
    const before = users().length;
    const r = req('Alice@Example.com', 'g-alice');
    expect(await runGrant(d, job(d, r))).toMatchObject({ state: 'granted', preExisting: true });
    expect(await runRevoke(d, { ...job(d, r), origin: 'job' })).toMatchObject({ state: 'revoked', preExisting: true });
    expect(named('alice@example.com')).toHaveLength(1);
    expect(users()).toHaveLength(before);
  });

  test('overlapping grants share one user; the sweeper deletes it when the last one expires', async () => {
    const d = deps();
    const a = req('yuki@example.com', 'g-yuki-a', person('Yuki', 'Yamada'));
    const b = req('yuki@example.com', 'g-yuki-b', person('Yuki', 'Yamada'));
    expect(await runGrant(d, job(d, a))).toMatchObject({ state: 'granted', preExisting: false });
    expect(await runGrant(d, job(d, b, new Date(clock + 3_600_000).toISOString()))).toMatchObject({ state: 'granted', preExisting: false });
    expect(named('yuki@example.com')).toHaveLength(1);
    // The same user named in another case is another request for the same user: refused while held.
    await expect(runGrant(d, job(d, req('YUKI@example.com', 'g-yuki-c', person('Yuki', 'Yamada'))))).rejects.toMatchObject({ code: 'GRANT_CONFLICT' });
    expect(await runRevoke(d, { ...job(d, a), origin: 'job' })).toMatchObject({ state: 'revoked', heldBy: 1 });
    expect(named('yuki@example.com')).toHaveLength(1);
    clock += 2 * 3_600_000;
    expect(await sweepOnce(deps(), logs.log)).toMatchObject({ revoked: 1, failed: 0 });
    expect(named('yuki@example.com')).toEqual([]);
  });

  test('a user that still has a group membership is left in place; once it is gone, the revoke deletes the user', async () => {
    const d = deps();
    const r = req('xavier@example.com', 'g-xavier', person('Xavier', 'Xu'));
    await runGrant(d, job(d, r));
    const x = named('xavier@example.com')[0]!;
    const group = [...sim.world.sso!.groups.values()].find((g) => g.DisplayName === 'Developers')!.GroupId;
    const membership = { MembershipId: 'm-xavier', GroupId: group, UserId: x.UserId };
    sim.world.sso!.memberships.set(membership.MembershipId, membership);
    const err = await runRevoke(d, { ...job(d, r), origin: 'job' }).catch((e: unknown) => e) as ConnectorError;
    expect([err.code, err.retryable, err.message]).toEqual(['ACCESS_FAILED', true, `the user xavier@example.com (${x.UserId}) still has group memberships or account assignments; it was left in place. Revoke the grants that use it (or remove them), then revoke this one again`]);
    expect(named('xavier@example.com')).toHaveLength(1);
    sim.world.sso!.memberships.delete(membership.MembershipId);
    expect(await runRevoke(d, { ...job(d, r), origin: 'job' })).toMatchObject({ state: 'revoked' });
    expect(named('xavier@example.com')).toEqual([]);
  });

  test('revoke deletes only the user the grant created: a user of the same name created since is left', async () => {
    const ctx = accessContextFor(sim);
    const r = req('walt@example.com', 'g-walt', person('Walt', 'Weber'));
    const kept = (await ssoUser.grant(ctx, r, { present: false })) as { userId: string };
    sim.world.sso!.users.delete(kept.userId);
    await ssoUser.grant(ctx, r, { present: false });
    expect(await ssoUser.revoke(ctx, r, kept)).toEqual({ notes: [`the user walt@example.com (${kept.userId}) was already deleted`] });
    expect(named('walt@example.com')).toHaveLength(1);
    expect(await codeOf(ssoUser.revoke(ctx, r, {}))).toBe('ACCESS_FAILED');
    expect(await codeOf(ssoUser.revoke(ctx, r, { userId: '../x' }))).toBe('ACCESS_FAILED');
    expect(named('walt@example.com')).toHaveLength(1);
  });

  test("an external identity source refuses the kind unless the policy file allows it", async () => {
    const someone = users().find((u) => u.UserName === 'judy@example.com')!;
    someone.ExternalIds = [{ Issuer: 'https://scim.example.com', Id: 'judy' }];
    try {
      const d = deps();
      sim.stats.reset();
      const err = await runGrant(d, job(d, req('vera@example.com', 'g-vera', person('Vera', 'Vogel')))).catch((e: unknown) => e) as ConnectorError;
      expect(err.code).toBe('ACCESS_REFUSED');
      expect(err.message).toContain('allowExternalIdentitySourceWrites');
      expect(calls('identitystore:CreateUser')).toBe(0);
      expect(named('vera@example.com')).toEqual([]);
      const allowed = deps(policySchema.parse({ version: 1, accessKinds: { allowExternalIdentitySourceWrites: true } }));
      const r = req('vera@example.com', 'g-vera-2', person('Vera', 'Vogel'));
      expect(await runGrant(allowed, job(allowed, r))).toMatchObject({ state: 'granted' });
      await runRevoke(allowed, { ...job(allowed, r), origin: 'job' });
      expect(named('vera@example.com')).toEqual([]);
    } finally {
      delete someone.ExternalIds;
    }
  });

  test('hostile input is refused before any AWS call', async () => {
    const ctx = accessContextFor(sim);
    const names = ['zoe example', 'zoe"}]@x', '../zoe', 'zoe;rm -rf ~', 'z'.repeat(129), '', 'zoé@example.com'];
    const targets: Record<string, unknown>[] = [
      { ...person('Zoe', 'Zhang'), extra: 1 }, { ...person('Zoe', 'Zhang'), displayName: 'Zoe\u202eZhang' }, { ...person('Zoe', 'Zhang'), givenName: 'Z\noe' },
      { ...person('Zoe', 'Zhang'), familyName: 'Z'.repeat(129) }, { ...person('Zoe', 'Zhang'), email: 'not an address' }, { displayName: 'Zoe' }, { ...person('Zoe', 'Zhang'), displayName: ' Zoe' },
    ];
    sim.stats.reset();
    for (const n of names) {
      expect({ n, bad: typeof ssoUser.checkPrincipal!({ type: 'user', id: n }) }).toEqual({ n, bad: 'string' });
      for (const step of entryPoints(ssoUser, ctx, req(n, 'g-h'), { present: false }, { userId: '9067b0a1d2-11111111-2222-3333-4444-555555555555' })) {
        expect({ n, code: await codeOf(step()) }).toEqual({ n, code: 'JOB_PARAMS_INVALID' });
      }
    }
    for (const t of targets) {
      expect({ t, ok: ssoUser.target.safeParse(t).success }).toEqual({ t, ok: false });
      for (const step of entryPoints(ssoUser, ctx, req('zoe@example.com', 'g-h', t as Target))) expect({ t, code: await codeOf(step()) }).toEqual({ t, code: 'JOB_PARAMS_INVALID' });
    }
    expect(sim.stats.snapshot().total.calls).toBe(0);
    expect(accessParamsSchema.safeParse({ grantId: 'g-h', accessKind: 'sso.user', principal: { type: 'group', id: 'zoe@example.com' }, target: person('Zoe', 'Zhang') }).success).toBe(false);
    expect(ssoUser.accessKey(req('Zoe@Example.com', 'g-h'))).toBe('sso.user:zoe@example.com');
  });

  test('requiredActions are exactly the AWS actions the kind calls', async () => {
    const ctx = accessContextFor(sim);
    sim.stats.reset();
    const r = req('una@example.com', 'g-una', person('Una', 'Ulm'));
    await ssoUser.facts(ctx, r);
    expect(await ssoUser.describe(ctx, r)).toEqual({ present: false });
    const kept = await ssoUser.grant(ctx, r, { present: false });
    expect(await ssoUser.describe(ctx, r)).toEqual({ present: true, observed: kept });
    expect(await ssoUser.revoke(ctx, r, kept ?? {})).toEqual({ notes: [`the user una@example.com (${String((kept as { userId: string }).userId)}) was deleted`] });
    // The simulator counts sso-admin operations under the service's endpoint name; their IAM prefix is sso.
    const used = Object.keys(sim.stats.snapshot().byOperation).filter((k) => !k.startsWith('sts:')).map((k) => k.replace(/^sso-admin:/, 'sso:')).sort();
    expect(used).toEqual([...ssoUser.requiredActions].sort());
  });
});
