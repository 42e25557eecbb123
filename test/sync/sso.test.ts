// The Identity Center sources (sso, sso-assignments) against the AWS simulator: what they
// emit is compared id by id with the simulator's ground truth for the same settings.
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_EXTERNAL_ID, DEMO_MANAGEMENT_ACCOUNT } from '../sim/aws/worlds/demo.js';
import type { IntegrationSettings } from '../sim/aws/ground-truth.js';
import { ConnectorError } from '../../src/errors.js';
import type { Entity } from '../../src/protocol/messages.js';
import { ssoSource } from '../../src/sync/sources/sso.js';
import { ssoAssignmentsSource } from '../../src/sync/sources/sso-assignments.js';
import type { EntitySource, SourceContext } from '../../src/sync/types.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { planFor, runAllUnits, runSource } from '../helpers/sync.js';

type Layer = ReturnType<typeof awsLayer>;
const SSO_KINDS = ['sso.instance', 'sso.permissionSet', 'sso.user', 'sso.group', 'sso.groupMembership', 'sso.accountAssignment'] as const;
const ENTITY_FIELDS = new Set(['kind', 'id', 'name', 'accountId', 'region', 'parentId', 'arn', 'tags', 'owner', 'attributes']);

function idsOf(entities: ReadonlyArray<{ kind: string; id: string }>, kind: string): string[] {
  return entities.filter((e) => e.kind === kind).map((e) => e.id).sort();
}

/** Both sources, every unit, as the runner would run them. */
async function syncIdentityCenter(layer: Layer): Promise<{ entities: Entity[]; warnings: Array<{ code: string }> }> {
  const plan = planFor(sim.world, layer.integration);
  const a = await runAllUnits(ssoSource, plan, layer);
  const b = await runAllUnits(ssoAssignmentsSource, plan, layer);
  return { entities: [...a.entities, ...b.entities], warnings: [...a.warnings, ...b.warnings] };
}

function expectGroundTruth(entities: Entity[], settings: IntegrationSettings, kinds: readonly string[] = SSO_KINDS): void {
  const truth = sim.groundTruth({ type: 'aws-organization', resourceTypes: ['sso'], ...settings }).entities;
  for (const kind of kinds) {
    const emitted = idsOf(entities, kind);
    expect({ kind, ids: emitted }).toEqual({ kind, ids: idsOf(truth, kind) });
    expect(new Set(emitted).size).toBe(emitted.length);
  }
  expect(entities.filter((e) => !kinds.includes(e.kind))).toEqual([]);
}

/** Reads the sso source until `stop` is emitted (the rest is never fetched). */
async function ssoUntil(layer: Layer, stop: string, extra: Partial<SourceContext> = {}): Promise<Entity[]> {
  const plan = planFor(sim.world, layer.integration);
  const ctx: SourceContext = {
    session: layer.session, plan, unit: ssoSource.units(plan)[0]!, log: layer.logs.log, signal: new AbortController().signal,
    warn: () => undefined, ...extra,
  };
  const out: Entity[] = [];
  for await (const e of ssoSource.read(ctx)) {
    out.push(e);
    if (e.kind === stop) break;
  }
  return out;
}

const QUOTA_SHARE = 0.9;
let sim: AwsSimulator;
let restore: () => void;

describe('Identity Center sources, demo world (quotas on)', () => {
  const mgmtRole = `arn:aws:iam::${DEMO_MANAGEMENT_ACCOUNT}:role/AccessConnectorManagement`;
  // A share a little under the simulator's quota, as in production (default 0.5): at
  // exactly the quota, jitter gets calls throttled and the SDK's adaptive retry slows down.
  const layer = (over: Record<string, unknown> = {}) =>
    awsLayer({ roleArn: mgmtRole, externalId: DEMO_EXTERNAL_ID, ssoRegion: 'us-east-1', resourceOwnerTagKey: 'owner', ...over }, { quotaShare: QUOTA_SHARE });
  // One full run of both sources, shared by the tests that only read what it emitted.
  let full: Entity[];
  let fullWarnings: Array<{ code: string }>;
  let fullCalls: string[];

  beforeAll(async () => {
    sim = await startAwsSimulator({ world: 'demo' });
    restore = useAwsEnv(sim.env);
    sim.stats.reset();
    ({ entities: full, warnings: fullWarnings } = await syncIdentityCenter(layer()));
    fullCalls = Object.keys(sim.stats.snapshot().byOperation);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });
  // Each test makes a new AWS layer whose client-side limiter starts with a full bucket;
  // the simulator's buckets start full too, as AWS's would after a quiet while.
  beforeEach(() => sim.admin.setQuotas({}));
  afterEach(() => sim.faults.clear());

  test('emits exactly the ground truth, no duplicates, protocol fields only, and calls only requiredActions', async () => {
    expect(fullWarnings).toEqual([]);
    expectGroundTruth(full, {});
    for (const e of full) expect(Object.keys(e).filter((k) => !ENTITY_FIELDS.has(k))).toEqual([]);
    const called = fullCalls
      .filter((k) => k.startsWith('sso-admin:') || k.startsWith('identitystore:'))
      .map((k) => k.replace(/^sso-admin:/, 'sso:'));
    expect(called.length).toBeGreaterThan(5);
    const declared = new Set([...ssoSource.requiredActions, ...ssoAssignmentsSource.requiredActions]);
    expect(called.filter((a) => !declared.has(a))).toEqual([]);
  });

  test('instance, permission sets with their policy summary, tags and owner', () => {
    const s = sim.world.sso!;
    const inst = full.find((e) => e.kind === 'sso.instance')!;
    expect(inst).toMatchObject({ id: s.arn, arn: s.arn, accountId: DEMO_MANAGEMENT_ACCOUNT, region: 'us-east-1' });
    expect(inst.attributes).toMatchObject({ identityStoreId: s.identityStoreId, status: 'ACTIVE', identitySource: 'IDENTITY_CENTER' });
    const ps = (name: string) => full.find((e) => e.kind === 'sso.permissionSet' && e.name === name)!;
    const dev = ps('Developer');
    expect(dev).toMatchObject({ parentId: s.arn, tags: { owner: 'platform' }, owner: 'platform' });
    expect(dev.attributes).toMatchObject({
      managedPolicyArns: ['arn:aws:iam::aws:policy/PowerUserAccess'],
      customerManagedPolicies: [{ name: 'DeployPolicy', path: '/' }],
      hasInlinePolicy: true,
      permissionsBoundary: null,
    });
    expect(JSON.parse(dev.attributes['inlinePolicy'] as string).Statement[0].Effect).toBe('Deny');
    expect(dev.attributes['inlinePolicySize']).toBe(Buffer.byteLength(dev.attributes['inlinePolicy'] as string));
    const admin = ps('AdministratorAccess');
    expect(admin.attributes).toMatchObject({ sessionDuration: 'PT1H', hasInlinePolicy: false, inlinePolicySize: 0, permissionsBoundary: null });
    expect(admin.attributes).not.toHaveProperty('inlinePolicy');
    expect(admin).not.toHaveProperty('tags');
    expect(admin).not.toHaveProperty('owner');
    expect(ps('SecurityAudit').attributes['permissionsBoundary']).toEqual({ managedPolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' });
    expect(ps('Billing').attributes['permissionsBoundary']).toEqual({ customerManagedPolicy: { name: 'AccessConnectorBoundary', path: '/' } });
    expect(ps('ReadOnly').attributes['description']).toBe('Read-only access');
  });

  test('users, groups, memberships and assignments carry what the protocol needs', () => {
    const s = sim.world.sso!;
    const alice = [...s.users.values()].find((u) => u.UserName === 'alice@example.com')!;
    const user = full.find((e) => e.id === `arn:aws:identitystore:::user/${alice.UserId}`)!;
    expect(user).toMatchObject({ kind: 'sso.user', name: 'alice@example.com', parentId: s.arn });
    expect(user.attributes).toEqual({
      userId: alice.UserId, userName: 'alice@example.com', displayName: 'Alice Anders',
      name: { givenName: 'Alice', familyName: 'Anders', formatted: 'Alice Anders' },
      emails: [{ value: 'alice@example.com', type: 'work', primary: true }], hasExternalIds: false,
    });
    const groupIds = new Set(idsOf(full, 'sso.group'));
    const memberships = full.filter((e) => e.kind === 'sso.groupMembership');
    for (const m of memberships) {
      const truth = s.memberships.get(m.id.split('/').pop()!)!;
      expect(m.attributes).toMatchObject({ groupId: truth.GroupId, userId: truth.UserId });
      expect(m.parentId).toBe(`arn:aws:identitystore:::group/${truth.GroupId}`);
      expect(groupIds.has(m.parentId!)).toBe(true);
    }
    const principals = new Set([...idsOf(full, 'sso.user'), ...groupIds]);
    const psNames = new Map(full.filter((e) => e.kind === 'sso.permissionSet').map((e) => [e.id, e.name]));
    for (const a of full.filter((e) => e.kind === 'sso.accountAssignment')) {
      const [psArn, accountId, type, principalId] = a.id.split('|');
      expect(a).toMatchObject({ accountId, region: 'us-east-1' });
      expect(a.attributes).toMatchObject({ permissionSetArn: psArn, principalType: type, principalId, permissionSetName: psNames.get(psArn!) });
      expect(principals.has(a.attributes['principalEntityId'] as string)).toBe(true);
    }
    const aliceAdmin = full.find((e) => e.kind === 'sso.accountAssignment' && e.attributes['principalId'] === alice.UserId)!;
    expect(aliceAdmin.name).toMatch(/^AdministratorAccess for user /);
  });

  test('userAttributes: only allowed attributes (AWS names, any case) leave the account; the name never leaks one', async () => {
    const l = layer();
    const users = async (allowed: string[]) => (await ssoUntil(l, 'sso.instance', { userAttributes: allowed })).filter((e) => e.kind === 'sso.user');
    const some = await users(['UserName', 'emails']);
    expect(some).toHaveLength(10);
    for (const u of some) {
      expect(Object.keys(u.attributes).sort()).toEqual(['emails', 'userId', 'userName']);
      expect(u.name).toBe(u.attributes['userName']);
    }
    const displayOnly = await users(['DisplayName']);
    for (const u of displayOnly) {
      expect(Object.keys(u.attributes).sort()).toEqual(['displayName', 'userId']);
      expect(u.name).toBe(u.attributes['displayName']);
      expect(JSON.stringify(u)).not.toContain('@example.com');
    }
    const none = await users([]);
    for (const u of none) {
      expect(u.attributes).toEqual({ userId: u.id.split('/').pop() });
      expect(u.name).toBe(u.attributes['userId']);
    }
  });

  test('identity source: users with ExternalIds (SCIM / AD) make it EXTERNAL', async () => {
    const u = [...sim.world.sso!.users.values()][3]!;
    u.ExternalIds = [{ Issuer: 'https://scim.example.com', Id: 'ext-1' }];
    try {
      const got = await ssoUntil(layer(), 'sso.instance');
      expect(got.find((e) => e.kind === 'sso.instance')!.attributes['identitySource']).toBe('EXTERNAL');
      expect(got.filter((e) => e.kind === 'sso.user' && e.attributes['hasExternalIds'] === true).map((e) => e.id)).toEqual([`arn:aws:identitystore:::user/${u.UserId}`]);
    } finally {
      delete u.ExternalIds;
    }
  });

  test('an inline policy over 4 KiB is reported by size, not sent', async () => {
    const ps = [...sim.world.sso!.permissionSets.values()].find((p) => p.name === 'Developer')!;
    const saved = ps.inline;
    ps.inline = JSON.stringify({ Version: '2012-10-17', Statement: Array.from({ length: 80 }, (_, i) => ({ Sid: `S${i}`, Effect: 'Deny', Action: 's3:DeleteBucket', Resource: `arn:aws:s3:::bucket-${i}` })) });
    try {
      const l = layer();
      const plan = planFor(sim.world, l.integration);
      const got = await runSource(ssoSource, plan, ssoSource.units(plan)[0]!, l);
      const dev = got.entities.find((e) => e.kind === 'sso.permissionSet' && e.name === 'Developer')!;
      expect(dev.attributes).toMatchObject({ hasInlinePolicy: true, inlinePolicySize: Buffer.byteLength(ps.inline) });
      expect(ps.inline.length).toBeGreaterThan(4096);
      expect(dev.attributes).not.toHaveProperty('inlinePolicy');
    } finally {
      ps.inline = saved;
    }
  });

  test('exclusions: assignments only for the accounts in the plan', async () => {
    const development = [...sim.world.ous.values()].find((o) => o.name === 'Development')!.id;
    const settings = { excludeOrganizationalUnitIds: [development], excludeAccountIds: ['333333333302'] };
    const l = layer(settings);
    const plan = planFor(sim.world, l.integration);
    const units = ssoAssignmentsSource.units(plan);
    expect(units.map((u) => u.accountId)).toEqual(plan.accounts.map((a) => a.id));
    expect(units.every((u) => u.region === 'us-east-1' && u.source === 'sso-assignments')).toBe(true);
    const got = await runAllUnits(ssoAssignmentsSource, plan, l);
    expectGroundTruth(got.entities, settings, ['sso.accountAssignment']);
    const accounts = new Set(got.entities.map((e) => e.accountId));
    expect(accounts.has('333333333302')).toBe(false);
    expect([...accounts].some((a) => a!.startsWith('4444') || a!.startsWith('5555'))).toBe(false);
    // Fewer than without exclusions, so the exclusions did something.
    expect(got.entities.length).toBeLessThan(idsOf(full, 'sso.accountAssignment').length);
  });

  test('a throttling storm on sso-admin still yields the full set', async () => {
    // Without the Production and Development subtrees: fewer assignment calls keep the
    // test short (the SDK's adaptive retry slows the client down after throttling).
    const settings = { excludeOrganizationalUnitIds: [...sim.world.ous.values()].filter((o) => o.name === 'Production' || o.name === 'Development').map((o) => o.id) };
    sim.stats.reset();
    sim.faults.throttleStorm({ service: 'sso-admin', fraction: 0.5, durationMs: 2000 });
    const r = await syncIdentityCenter(layer(settings));
    expectGroundTruth(r.entities, settings);
    expect(sim.stats.snapshot().byService['sso-admin']!.throttled).toBeGreaterThan(0);
  });

  test('an account that denies the member role: its assignments are still read (from the management account)', async () => {
    sim.faults.denyAccount('333333333301');
    const l = layer();
    const plan = planFor(sim.world, l.integration);
    const got = await runSource(ssoAssignmentsSource, plan, ssoAssignmentsSource.units(plan).find((u) => u.accountId === '333333333301')!, l);
    const truth = sim.groundTruth({ type: 'aws-organization', resourceTypes: ['sso'] }).entities.filter((e) => e.kind === 'sso.accountAssignment' && e.id.includes('|333333333301|'));
    expect(truth.length).toBeGreaterThan(0);
    expect(idsOf(got.entities, 'sso.accountAssignment')).toEqual(idsOf(truth, 'sso.accountAssignment'));
  });

  test('no instance in the Identity Center region: a warning and nothing else', async () => {
    const r = await syncIdentityCenter(layer({ ssoRegion: 'eu-west-1' }));
    expect(r.entities).toEqual([]);
    expectGroundTruth(r.entities, { ssoRegion: 'eu-west-1' });
    expect(r.warnings.map((w) => w.code)).toEqual(['SSO_INSTANCE_NOT_FOUND']);
  });

  test('AccessDenied on sso:ListInstances → ConnectorError AWS_ACCESS_DENIED', async () => {
    const role = sim.admin.getRole({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: 'AccessConnectorManagement' }) as { sim?: { allow: string[] } } | undefined;
    const allow = role?.sim?.allow ?? ['*'];
    sim.admin.setRolePermissions({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: 'AccessConnectorManagement', allow, deny: ['sso:ListInstances'] });
    try {
      const l = layer();
      const plan = planFor(sim.world, l.integration);
      for (const source of [ssoSource, ssoAssignmentsSource] as EntitySource[]) {
        const err = await runSource(source, plan, source.units(plan)[0]!, l).then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(ConnectorError);
        expect(err).toMatchObject({ code: 'AWS_ACCESS_DENIED', message: expect.stringContaining('ListInstances') });
      }
    } finally {
      sim.admin.setRolePermissions({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: 'AccessConnectorManagement', allow });
    }
  });
});

describe('Identity Center sources, generated world (pagination)', () => {
  // More than 100 users and more than 100 members per group, so ListUsers and
  // ListGroupMemberships both take several pages; few permission sets and accounts keep
  // the run inside Identity Center's 20 TPS for a short test.
  const world = { generate: { seed: 3, accounts: 8, ssoUsers: 230, ssoGroups: 3, permissionSets: 6 } };

  beforeAll(async () => {
    sim = await startAwsSimulator({ world });
    restore = useAwsEnv(sim.env);
  });
  afterAll(async () => {
    destroyAwsLayers();
    restore();
    await sim.close();
  });

  test('every page is read: the emitted ids equal the ground truth', async () => {
    sim.stats.reset();
    const w = sim.world;
    const l = awsLayer({ roleArn: `arn:aws:iam::${w.organization!.managementAccountId}:role/${w.connector.managementRoleName}`, externalId: w.connector.externalId, region: w.sso!.region }, { quotaShare: QUOTA_SHARE });
    const r = await syncIdentityCenter(l);
    expectGroundTruth(r.entities, {});
    expect(idsOf(r.entities, 'sso.user')).toHaveLength(230);
    const ops = sim.stats.snapshot().byOperation;
    expect(ops['identitystore:ListUsers']!.calls).toBeGreaterThanOrEqual(3);
    expect(ops['identitystore:ListGroupMemberships']!.calls).toBeGreaterThan(3);
    // The assignment source described each provisioned permission set once, not once per account.
    const described = ops['sso-admin:DescribePermissionSet']!;
    expect(described.calls - described.throttled - described.errors).toBeLessThanOrEqual(2 * 6);
  });
});
