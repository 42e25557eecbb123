// Last sign-in and last use in a sync (issue #17, point 3), through the real connector, the
// reference control plane and the AWS simulator, which logs Identity Center sign-ins in
// CloudTrail as AWS does (test/sim/aws/sign-ins.ts):
// - sso.user: lastSignInAt = the newest UserAuthentication in the window, null when none
//   since lastSignInWindowStart; the feed denied → both unknown, the gap named;
// - iam.user: passwordLastUsed from ListUsers (optional read);
// - iam.role: lastUsedDate / lastUsedRegion from GAAD's RoleLastUsed.
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_MANAGEMENT_ACCOUNT, demoIntegration } from '../sim/aws/worlds/demo.js';
import { canonicalRefs } from '../sim/aws/entity-ids.js';
import { lastSignIns, SIGN_IN_WINDOW_MS } from '../sim/aws/ground-truth.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { layerFor, planFor, runSource } from '../helpers/sync.js';
import { ssoSource } from '../../src/sync/sources/sso.js';
import type { Entity } from '../../src/protocol/messages.js';

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let connector: ConnectorProcess;
// enableAudit: the templates grant cloudtrail:LookupEvents only with EnableAudit, and the sign-in read follows it.
const integration = demoIntegration({ id: 'int-last-use', resourceOwnerTagKey: 'owner', enableAudit: true });
const MGMT_ROLE = 'AccessConnectorManagement';
const DAY = 86_400_000;

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  cp = await ReferenceControlPlane.start();
  // The connector paces LookupEvents at AWS's 2 TPS; scaled up 20× so 100 pages take seconds.
  connector = new ConnectorProcess({ ...connectorEnv(cp.url), ...sim.env, AWS_QUOTA_MULTIPLIER: '20' });
  // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
  await cp.waitForSession(20_000);
});
afterAll(async () => {
  await connector.stop();
  await cp.close();
  await sim.close();
});

type Output = { coverage: Array<{ status: string }>; coverageGaps: unknown[]; errors: unknown[] };

async function sync(resourceTypes: string[]) {
  const { jobId } = cp.sendJob({ jobType: 'sync', integration: { ...integration, resourceTypes: resourceTypes as never }, params: { mode: 'full' } });
  const result = await cp.waitForResult(jobId, 60_000);
  const entities = cp
    .unique()
    .filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId)
    .flatMap((f) => f.frame!['entities'] as Entity[]);
  expect(result.status).toBe('succeeded');
  // Nothing lost whatever was read of last use.
  const truth = sim.groundTruth({ ...integration, resourceTypes } as never).entities;
  expect(canonicalRefs(entities.map((e) => ({ kind: e.kind as never, id: e.id })))).toEqual(canonicalRefs(truth));
  const output = result.output as Output;
  expect(output.coverage.filter((c) => c.status !== 'complete')).toEqual([]);
  expect(output.errors).toEqual([]);
  return { entities, output };
}

function withDenied(accountId: string, roleName: string, action: string, run: () => Promise<void>): Promise<void> {
  const perms = sim.admin.getRole({ accountId, roleName })!['permissions'] as { allow: string[]; deny?: string[] };
  sim.admin.setRolePermissions({ accountId, roleName, allow: perms.allow, deny: [...(perms.deny ?? []), action] });
  return run().finally(() => sim.admin.setRolePermissions({ accountId, roleName, ...perms }));
}

const ssoUser = (es: Entity[], userId: string) => es.find((e) => e.kind === 'sso.user' && e.attributes['userId'] === userId)!;
const userIdOf = (name: string) => [...sim.world.sso!.users.values()].find((u) => u.UserName === `${name}@example.com`)!.UserId;

describe('sso.user: last sign-in from CloudTrail', () => {
  test('the newest UserAuthentication in the window; null, with the window start, for users without one since', async () => {
    // bob signs in again now: his newest sign-in replaces the one 40 days ago.
    const before = Date.now();
    sim.admin.signIn({ userId: userIdOf('bob') });
    const { entities, output } = await sync(['sso']);
    expect(output.coverageGaps).toEqual([]);
    const users = entities.filter((e) => e.kind === 'sso.user');
    expect(users).toHaveLength(sim.world.sso!.users.size);

    const windowStart = Date.parse(users[0]!.attributes['lastSignInWindowStart'] as string);
    // The whole window (the demo's sign-ins fit the page budget): 89 days less an hour.
    expect(windowStart).toBeGreaterThanOrEqual(before - SIGN_IN_WINDOW_MS - 60_000);
    expect(windowStart).toBeLessThanOrEqual(Date.now() - SIGN_IN_WINDOW_MS);
    const truth = lastSignIns(sim.world, windowStart);
    for (const u of users) {
      expect(u.attributes['lastSignInWindowStart']).toBe(users[0]!.attributes['lastSignInWindowStart']);
      const t = truth.get(u.attributes['userId'] as string);
      expect(u.attributes['lastSignInAt']).toBe(t === undefined ? null : new Date(t).toISOString());
      expect(u.attributes).not.toHaveProperty('unknownAttributes');
    }
    // alice: two sign-ins (2 and 9 days ago), the newer one.
    const alice = Date.parse(ssoUser(entities, userIdOf('alice')).attributes['lastSignInAt'] as string);
    expect(alice).toBeGreaterThan(before - 2 * DAY - 60_000);
    expect(alice).toBeLessThan(before - 2 * DAY + 60_000);
    expect(Date.parse(ssoUser(entities, userIdOf('bob')).attributes['lastSignInAt'] as string)).toBeGreaterThanOrEqual(before - 1000);
    // carol signed in 100 days ago, before what CloudTrail keeps; judy never did.
    expect(ssoUser(entities, userIdOf('carol')).attributes['lastSignInAt']).toBeNull();
    expect(ssoUser(entities, userIdOf('judy')).attributes['lastSignInAt']).toBeNull();
    // The challenge events of a sign-in are not sign-ins: the read filters UserAuthentication in AWS.
    expect(sim.admin.trailEvents({ accountId: DEMO_MANAGEMENT_ACCOUNT }).some((e) => e.EventName === 'CredentialChallenge')).toBe(true);
  });

  test('the feed denied: every user still sent, both attributes unknown, the gap named; the sync succeeds', async () => {
    await withDenied(DEMO_MANAGEMENT_ACCOUNT, MGMT_ROLE, 'cloudtrail:LookupEvents', async () => {
      const { entities, output } = await sync(['sso']);
      expect(output.coverageGaps).toEqual([{ action: 'cloudtrail:LookupEvents', reason: 'denied', accounts: [DEMO_MANAGEMENT_ACCOUNT] }]);
      const users = entities.filter((e) => e.kind === 'sso.user');
      expect(users).toHaveLength(sim.world.sso!.users.size);
      for (const u of users) {
        expect(u.attributes).not.toHaveProperty('lastSignInAt');
        expect(u.attributes).not.toHaveProperty('lastSignInWindowStart');
        expect(u.attributes['unknownAttributes']).toEqual(['lastSignInAt', 'lastSignInWindowStart']);
      }
    });
  });

  test('a policy that keeps sign-in times in the account (sync.userAttributes without lastSignIn), or enableAudit off: no attribute, and CloudTrail is not read', async () => {
    const restore = useAwsEnv(sim.env);
    try {
      const layer = layerFor(sim, { ssoRegion: 'us-east-1', enableAudit: true });
      const plan = planFor(sim.world, layer.integration);
      const unit = ssoSource.units(plan)[0]!;
      const calls = () => sim.stats.snapshot().byOperation['cloudtrail:LookupEvents']?.calls ?? 0;
      const before = calls();
      const kept = await runSource(ssoSource, plan, unit, layer, { userAttributes: ['UserName'] });
      expect(calls()).toBe(before);
      for (const u of kept.entities.filter((e) => e.kind === 'sso.user')) expect(Object.keys(u.attributes).sort()).toEqual(['userId', 'userName']);
      const allowed = await runSource(ssoSource, plan, unit, layer, { userAttributes: ['UserName', 'lastSignIn'] });
      expect(calls()).toBe(before + 1);
      const alice = ssoUser(allowed.entities, userIdOf('alice'));
      expect(Object.keys(alice.attributes).sort()).toEqual(['lastSignInAt', 'lastSignInWindowStart', 'userId', 'userName']);
      expect(alice.attributes['lastSignInAt']).toEqual(expect.any(String));
      // Without enableAudit (a read-only install of the templates has no CloudTrail): not read, not sent.
      const off = layerFor(sim, { ssoRegion: 'us-east-1' });
      const noAudit = await runSource(ssoSource, planFor(sim.world, off.integration), unit, off);
      expect(calls()).toBe(before + 1);
      expect(noAudit.gaps).toEqual([]);
      for (const u of noAudit.entities.filter((e) => e.kind === 'sso.user')) expect(Object.keys(u.attributes).filter((k) => /SignIn|unknown/.test(k))).toEqual([]);
    } finally {
      destroyAwsLayers();
      restore();
    }
  });
  test('the feed throttled away (still throttled after the retries): the users are sent with both attributes unknown, the gap is `unavailable`', async () => {
    const restore = useAwsEnv(sim.env);
    sim.faults.throttleStorm({ service: 'cloudtrail', operation: 'LookupEvents' });
    try {
      const layer = layerFor(sim, { ssoRegion: 'us-east-1', enableAudit: true });
      const plan = planFor(sim.world, layer.integration);
      const r = await runSource(ssoSource, plan, ssoSource.units(plan)[0]!, layer);
      expect(r.gaps).toEqual([{ action: 'cloudtrail:LookupEvents', reason: 'unavailable', accountId: DEMO_MANAGEMENT_ACCOUNT }]);
      const users = r.entities.filter((e) => e.kind === 'sso.user');
      expect(users).toHaveLength(sim.world.sso!.users.size);
      for (const u of users) expect(u.attributes['unknownAttributes']).toEqual(['lastSignInAt', 'lastSignInWindowStart']);
      expect(r.entities.filter((e) => e.kind === 'sso.instance')).toHaveLength(1);
    } finally {
      sim.faults.clear();
      destroyAwsLayers();
      restore();
    }
  }, 90_000);

  // Last in this block: it leaves over 5,000 sign-ins in the trail.
  test('more sign-ins than the page budget: 100 pages read (one query, its NextToken honoured), the window starts at the oldest sign-in read', async () => {
    const ids = [...sim.world.sso!.users.keys()].filter((id) => id !== userIdOf('judy'));
    const now = Date.now();
    for (let i = 0; i < 100 * 50 + 25; i++) sim.admin.signIn({ userId: ids[i % ids.length]!, eventTime: now - DAY - i * 60_000 });
    const calls = () => sim.stats.snapshot().byOperation['cloudtrail:LookupEvents']?.calls ?? 0;
    const before = calls();
    const { entities, output } = await sync(['sso']);
    expect(output.coverageGaps).toEqual([]);
    expect(calls() - before).toBe(100);
    const users = entities.filter((e) => e.kind === 'sso.user');
    const windowStart = Date.parse(users[0]!.attributes['lastSignInWindowStart'] as string);
    // The 5,000th newest UserAuthentication: the extra ones, after bob's of the first test
    // and alice's of two days ago.
    const read = sim.admin.trailEvents({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: 'us-east-1' })
      .filter((e) => e.EventName === 'UserAuthentication' && e.EventTime >= now - SIGN_IN_WINDOW_MS)
      .map((e) => e.EventTime).sort((a, b) => b - a);
    expect(windowStart).toBe(read[100 * 50 - 1]);
    expect(windowStart).toBeGreaterThan(now - 5 * DAY);
    const truth = lastSignIns(sim.world, windowStart);
    for (const u of users) {
      const t = truth.get(u.attributes['userId'] as string);
      expect(u.attributes['lastSignInAt']).toBe(t === undefined ? null : new Date(t).toISOString());
    }
    // bob's sign-in 40 days ago is before the window now: only the newer ones count; judy has none since.
    expect(ssoUser(entities, userIdOf('judy')).attributes['lastSignInAt']).toBeNull();
  }, 90_000);
});

describe('iam: password and role last use', () => {
  const ACCT = '333333333301';

  test("iam.user passwordLastUsed from ListUsers (null when the password was never used); iam.role lastUsedDate and lastUsedRegion from GAAD's RoleLastUsed", async () => {
    const role = sim.world.accounts.get(ACCT)!.iam.roles.get('OrganizationAccountAccessRole')!;
    role.lastUsed = Date.UTC(2025, 2, 3, 4, 5, 6);
    role.lastUsedRegion = 'eu-west-1';
    const { entities, output } = await sync(['iam']);
    expect(output.coverageGaps).toEqual([]);
    const user = (name: string) => entities.find((e) => e.kind === 'iam.user' && e.id === `arn:aws:iam::${ACCT}:user/${name}`)!;
    expect(user('breakglass').attributes['passwordLastUsed']).toBe('2024-05-17T08:30:00.000Z');
    expect(user('ci-bot').attributes['passwordLastUsed']).toBeNull();
    for (const u of entities.filter((e) => e.kind === 'iam.user')) {
      expect(u.attributes).toHaveProperty('passwordLastUsed');
      expect(u.attributes).not.toHaveProperty('unknownAttributes');
    }
    const r = entities.find((e) => e.kind === 'iam.role' && e.id === `arn:aws:iam::${ACCT}:role/OrganizationAccountAccessRole`)!;
    expect(r.attributes).toMatchObject({ lastUsedDate: '2025-03-03T04:05:06.000Z', lastUsedRegion: 'eu-west-1' });
    // A role never used: both null (AWS answers an empty RoleLastUsed).
    const unused = [...sim.world.accounts.get(ACCT)!.iam.roles.values()].find((x) => x.lastUsed === undefined)!;
    expect(entities.find((e) => e.kind === 'iam.role' && e.name === unused.name && e.accountId === ACCT)!.attributes).toMatchObject({ lastUsedDate: null, lastUsedRegion: null });
  });
  // ListUsers denied: test/sync/optional-reads.test.ts (every optional read, one by one).
});
