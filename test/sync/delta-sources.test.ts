// Delta syncs, per source (docs/sync.md, "Delta"): the organization unit reads tags only
// where Organizations logged a tag change (and for accounts not ACTIVE, whose state AWS
// changes without an event), reads in full after any other Organizations write event or
// when its feed cannot be read; ec2 and resources are not read (skipped, noChangeFeed);
// and a control plane that applies the delta to the full sync holds the ground truth.
//
// The tests share one simulator and run in order: CloudTrail events of one test stay in
// the feed window of the next (the feed is read from 20 minutes before `since`), so the
// one that makes a structural Organizations change runs last.
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { Inventory } from '../sim/control-plane/inventory.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { canonicalRefs } from '../sim/aws/entity-ids.js';
import { DEMO_MANAGEMENT_ACCOUNT, demoIntegration } from '../sim/aws/worlds/demo.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import type { Entity } from '../../src/protocol/messages.js';

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let connector: ConnectorProcess;
// Every source on, ec2 and resources included.
const integration = demoIntegration({ id: 'int-delta-sources' });
const MEMBER_ROLE = () => sim.world.connector.memberRoleName;

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  cp = await ReferenceControlPlane.start();
  connector = new ConnectorProcess({ ...connectorEnv(cp.url), ...sim.env, AWS_QUOTA_MULTIPLIER: '50' });
  // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
  await cp.waitForSession(20_000);
});
afterAll(async () => {
  await connector.stop();
  await cp.close();
  await sim.close();
});

type Coverage = { accountId: string; source: string; region: string; status: string; reason?: string };
async function run(params: Record<string, unknown>, integ: Record<string, unknown> = integration) {
  sim.stats.reset();
  const { jobId } = cp.sendJob({ jobType: 'sync', integration: integ as typeof integration, params });
  const result = await cp.waitForResult(jobId, 60_000);
  const calls = sim.stats.snapshot().byOperation;
  const entities = cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId).flatMap((f) => f.frame!['entities'] as Entity[]);
  const output = result.output as { coverage: Coverage[]; warnings: Array<{ code: string; message: string }>; deleted?: number };
  const calledTimes = (op: string) => calls[op]?.calls ?? 0;
  return { result, entities, output, calledTimes, org: output.coverage.find((c) => c.source === 'organization')! };
}
const activeMembers = () => [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== DEMO_MANAGEMENT_ACCOUNT);
const notActive = () => [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state !== 'ACTIVE');

// First: a deleted user later in this file would make every following delta read the directory in full.
test('with enableAudit, a directory refresh reads sign-ins only in the delta\'s own window, and says so on every user', async () => {
  const sso = sim.world.sso!;
  const audited = { ...integration, enableAudit: true };
  const since = new Date().toISOString();
  const [alice, bob] = [...sso.users.values()];
  // bob signed in before the window (his older time stays with the control plane), alice inside it.
  sim.admin.signIn({ userId: bob!.UserId, eventTime: Date.now() - 2 * 86_400_000 });
  sim.admin.signIn({ userId: alice!.UserId });
  sim.admin.addTrailEvent({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: sso.region, eventSource: 'identitystore.amazonaws.com', eventName: 'UpdateUser', username: 'admin', requestParameters: { identityStoreId: sso.identityStoreId, userId: alice!.UserId } });
  const delta = await run({ mode: 'delta', since }, audited);
  expect(delta.output.coverage.find((c) => c.source === 'sso')).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  const users = delta.entities.filter((e) => e.kind === 'sso.user');
  expect(users.length).toBe(sso.users.size);
  const windowStart = new Date(Date.parse(since) - 20 * 60_000).toISOString();
  const a = users.find((u) => u.attributes['userId'] === alice!.UserId)!;
  expect([typeof a.attributes['lastSignInAt'], a.attributes['lastSignInWindowStart']]).toEqual(['string', windowStart]);
  // bob's sign-in is older than the window: unknown here (the control plane keeps its time), never null.
  const b = users.find((u) => u.attributes['userId'] === bob!.UserId)!;
  expect('lastSignInAt' in b.attributes).toBe(false);
  expect(b.attributes['unknownAttributes']).toEqual(expect.arrayContaining(['lastSignInAt', 'lastSignInWindowStart']));
});

test('no Organizations event: the tree is walked without tag reads, reported unchanged, and only accounts not ACTIVE are sent', async () => {
  const delta = await run({ mode: 'delta', since: new Date().toISOString() });
  expect(delta.result.status).toBe('succeeded');
  expect(delta.org).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  // Tags are read for the accounts not ACTIVE only (here the demo's suspended one).
  expect(notActive().length).toBeGreaterThan(0);
  expect(delta.calledTimes('organizations:ListTagsForResource')).toBe(notActive().length);
  const orgKinds = delta.entities.filter((e) => e.kind.startsWith('aws.'));
  expect(orgKinds.map((e) => [e.kind, e.accountId, e.attributes['state']]).sort()).toEqual(notActive().map((a) => ['aws.account', a.id, a.state]).sort());
  // The plan was still made from the walk: every ACTIVE account has its IAM unit.
  const iamUnits = delta.output.coverage.filter((c) => c.source === 'iam').map((c) => c.accountId).sort();
  expect(iamUnits).toEqual([DEMO_MANAGEMENT_ACCOUNT, ...activeMembers().map((a) => a.id)].sort());
  // Without excluded OUs the accounts' states come from ListAccounts, not the tree walk; the
  // accounts sent are exactly what a full sync sends for them (OU path and parent included).
  expect(delta.calledTimes('organizations:ListAccountsForParent')).toBe(0);
  const full = await run({ mode: 'full' });
  for (const e of orgKinds) expect(e).toEqual(full.entities.find((f) => f.id === e.id));
});

test('ec2 and resources have no change feed: a delta does not read them and says so per unit', async () => {
  const full = await run({ mode: 'full' });
  expect(full.calledTimes('ssm:DescribeInstanceInformation')).toBeGreaterThan(0);
  expect(full.calledTimes('resource-explorer-2:ListResources')).toBeGreaterThan(0);
  const delta = await run({ mode: 'delta', since: new Date().toISOString() });
  const units = delta.output.coverage.filter((c) => c.source === 'ec2' || c.source === 'resources');
  // The same units as the full sync, none of them read.
  expect(units.length).toBe(full.output.coverage.filter((c) => c.source === 'ec2' || c.source === 'resources').length);
  for (const u of units) expect(u).toMatchObject({ status: 'skipped', reason: 'noChangeFeed' });
  expect(delta.calledTimes('ssm:DescribeInstanceInformation')).toBe(0);
  expect(delta.calledTimes('resource-explorer-2:ListResources')).toBe(0);
  expect(delta.entities.some((e) => e.kind === 'ec2.managedInstance' || e.kind === 'resource')).toBe(false);
});

test('an account AWS suspends (no event in any feed) is sent with its new state', async () => {
  const account = activeMembers()[activeMembers().length - 1]!;
  const since = new Date().toISOString();
  sim.admin.setAccountState({ accountId: account.id, state: 'SUSPENDED' });
  try {
    const delta = await run({ mode: 'delta', since });
    expect(delta.org).toMatchObject({ status: 'skipped', reason: 'unchanged' });
    expect(delta.entities.find((e) => e.kind === 'aws.account' && e.accountId === account.id)).toMatchObject({ attributes: expect.objectContaining({ state: 'SUSPENDED' }) });
    // Not entered any more: none of its units are planned.
    expect(delta.output.coverage.some((c) => c.accountId === account.id)).toBe(false);
  } finally {
    sim.admin.setAccountState({ accountId: account.id, state: 'ACTIVE' });
  }
});

test('when the Organizations feed cannot be read, the organization is read in full, with a warning', async () => {
  const role = sim.world.connector.managementRoleName;
  const perms = sim.admin.getRole({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: role }) as { permissions: { allow: string[] } | null };
  const allow = perms.permissions?.allow ?? ['*'];
  sim.admin.setRolePermissions({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: role, allow, deny: ['cloudtrail:LookupEvents'] });
  try {
    const delta = await run({ mode: 'delta', since: new Date().toISOString() });
    expect(delta.org).toMatchObject({ status: 'complete' });
    expect(delta.output.warnings).toContainEqual(expect.objectContaining({ code: 'DELTA_FEED_UNAVAILABLE', message: expect.stringContaining('Organizations events') }));
    expect(delta.entities.filter((e) => e.kind === 'aws.account').length).toBe([...sim.world.accounts.values()].filter((a) => a.inOrg).length);
    expect(delta.entities.some((e) => e.kind === 'aws.organizationalUnit')).toBe(true);
  } finally {
    sim.admin.setRolePermissions({ accountId: DEMO_MANAGEMENT_ACCOUNT, roleName: role, allow });
  }
});

test('a TagResource event (and an SCP attached): the tagged account is read and sent with its new tags, nothing else of the tree', async () => {
  const account = activeMembers()[0]!;
  const since = new Date().toISOString();
  sim.admin.tagOrganizationResource({ resourceId: account.id, tags: { 'cost-center': 'cc-42' } });
  // An SCP attached meanwhile changes nothing the organization unit sends.
  sim.admin.addTrailEvent({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: 'us-east-1', eventSource: 'organizations.amazonaws.com', eventName: 'AttachPolicy', username: 'admin', requestParameters: { policyId: 'p-examplescp', targetId: account.id } });
  const delta = await run({ mode: 'delta', since });
  expect(delta.org).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  expect(delta.calledTimes('organizations:ListTagsForResource')).toBe(1 + notActive().length);
  const sent = delta.entities.filter((e) => e.kind.startsWith('aws.'));
  expect(sent.map((e) => e.accountId).sort()).toEqual([account.id, ...notActive().map((a) => a.id)].sort());
  expect(sent.find((e) => e.accountId === account.id)?.tags).toMatchObject({ 'cost-center': 'cc-42' });
});

test('an account renamed through the Account Management API is read and sent', async () => {
  const account = activeMembers()[1]!;
  const since = new Date().toISOString();
  account.name = 'renamed-account';
  sim.admin.addTrailEvent({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: 'us-east-1', eventSource: 'account.amazonaws.com', eventName: 'PutAccountName', username: 'admin', requestParameters: { accountId: account.id, accountName: 'renamed-account' } });
  const delta = await run({ mode: 'delta', since });
  expect(delta.org).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  expect(delta.entities.find((e) => e.kind === 'aws.account' && e.accountId === account.id)).toMatchObject({ name: 'renamed-account' });
});

test('after changes with deletions, the full sync merged with the delta holds exactly the ground truth', async () => {
  const full = await run({ mode: 'full' });
  const view = new Inventory();
  view.applyFull(full.entities);
  const settings = { type: 'aws-organization' as const };
  expect(view.compare(canonicalRefs(sim.groundTruth(settings).entities))).toEqual({ missing: [], extra: [] });

  const since = new Date().toISOString();
  const [a, b] = activeMembers();
  // IAM: a user deleted in one account, a user created in another (as CloudTrail logs them).
  sim.admin.deleteUser({ accountId: a!.id, userName: 'auditor' });
  sim.admin.addTrailEvent({ accountId: a!.id, region: 'us-east-1', eventSource: 'iam.amazonaws.com', eventName: 'DeleteUser', username: 'admin', requestParameters: { userName: 'auditor' } });
  sim.admin.createUser({ accountId: b!.id, userName: 'newcomer' });
  sim.admin.addTrailEvent({ accountId: b!.id, region: 'us-east-1', eventSource: 'iam.amazonaws.com', eventName: 'CreateUser', username: 'admin', requestParameters: { userName: 'newcomer' } });
  // Identity Center: a group membership and an account assignment deleted.
  const sso = sim.world.sso!;
  const m = [...sso.memberships.values()][0]!;
  sso.memberships.delete(m.MembershipId);
  sim.admin.addTrailEvent({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: sso.region, eventSource: 'identitystore.amazonaws.com', eventName: 'DeleteGroupMembership', username: 'admin', requestParameters: { identityStoreId: sso.identityStoreId, membershipId: m.MembershipId } });
  const gone = sim.admin.listAssignments().find((x) => x.accountId !== DEMO_MANAGEMENT_ACCOUNT)!;
  sim.admin.removeAssignment(gone);
  sim.admin.addTrailEvent({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: sso.region, eventSource: 'sso.amazonaws.com', eventName: 'DeleteAccountAssignment', username: 'admin', requestParameters: { instanceArn: sso.arn, targetId: gone.accountId, targetType: 'AWS_ACCOUNT', permissionSetArn: gone.permissionSetArn, principalType: gone.principalType, principalId: gone.principalId } });

  const delta = await run({ mode: 'delta', since });
  expect(delta.output.deleted).toBe(2);
  // The view holds the truth although the delta left the tree, instances and resources unread.
  expect(delta.org).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  expect(delta.output.coverage.filter((c) => c.source === 'ec2' || c.source === 'resources').every((c) => c.reason === 'noChangeFeed')).toBe(true);
  expect(delta.output.coverage.find((c) => c.source === 'iam' && c.accountId === a!.id)).toMatchObject({ status: 'complete' });
  view.applyDelta(delta.entities, delta.output.coverage);
  expect(view.compare(canonicalRefs(sim.groundTruth(settings).entities))).toEqual({ missing: [], extra: [] });
  // The deleted IAM user left the view (its unit was complete), with its access keys.
  expect([...view.entities.keys()].some((r) => r.includes(`:${a!.id}:user/auditor`))).toBe(false);
});

test('Identity Store events that name every change: users and groups re-listed, memberships of the named group only, permission sets not read; a deleted user reads the unit in full', async () => {
  const sso = sim.world.sso!;
  const since = new Date().toISOString();
  const userId = `${sso.identityStoreId.slice(2, 12)}-0000-new-user`;
  sso.users.set(userId, { UserId: userId, UserName: 'new@example.com', DisplayName: 'New User', Name: { GivenName: 'New', FamilyName: 'User' }, Emails: [] });
  sim.admin.addTrailEvent({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: sso.region, eventSource: 'identitystore.amazonaws.com', eventName: 'CreateUser', username: 'admin', requestParameters: { identityStoreId: sso.identityStoreId, userName: 'new@example.com' } });
  const groupId = [...sso.groups.keys()][0]!;
  const membershipId = sim.admin.addGroupMembership({ groupId, userId });
  sim.admin.addTrailEvent({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: sso.region, eventSource: 'identitystore.amazonaws.com', eventName: 'CreateGroupMembership', username: 'admin', requestParameters: { identityStoreId: sso.identityStoreId, groupId, memberId: { userId } } });

  const delta = await run({ mode: 'delta', since });
  expect(delta.output.coverage.find((c) => c.source === 'sso')).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  expect(delta.entities.find((e) => e.kind === 'sso.user' && e.attributes['userId'] === userId)).toBeDefined();
  expect(delta.entities.find((e) => e.kind === 'sso.groupMembership' && e.attributes['membershipId'] === membershipId)).toBeDefined();
  expect(delta.entities.filter((e) => e.kind === 'sso.user').length).toBe(sso.users.size);
  expect(delta.entities.filter((e) => e.kind === 'sso.group').length).toBe(sso.groups.size);
  expect(new Set(delta.entities.filter((e) => e.kind === 'sso.groupMembership' && !e.deleted).map((e) => e.attributes['groupId']))).toEqual(new Set([groupId]));
  expect(delta.calledTimes('identitystore:ListGroupMemberships')).toBe(1);
  expect(delta.calledTimes('sso-admin:ListPermissionSets')).toBe(0);
  expect(delta.entities.some((e) => e.kind === 'sso.permissionSet')).toBe(false);

  // A user deleted takes its memberships with it, without events naming them: read in full.
  sso.users.delete(userId);
  sso.memberships.delete(membershipId);
  sim.admin.addTrailEvent({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: sso.region, eventSource: 'identitystore.amazonaws.com', eventName: 'DeleteUser', username: 'admin', requestParameters: { identityStoreId: sso.identityStoreId, userId } });
  const after = await run({ mode: 'delta', since });
  expect(after.output.coverage.find((c) => c.source === 'sso')).toMatchObject({ status: 'complete' });
  expect(after.calledTimes('sso-admin:ListPermissionSets')).toBeGreaterThan(0);
  expect(after.entities.find((e) => e.kind === 'sso.user' && e.deleted && e.id.endsWith(userId))).toBeDefined();
});

test('any other Organizations write event (an account moved) reads the organization in full', async () => {
  // Before the move, the feed holds tag events at most: the tree's tags are not read.
  const before = await run({ mode: 'delta', since: new Date().toISOString() });
  expect(before.org).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  const account = activeMembers()[0]!;
  const ou = [...sim.world.ous.values()].find((o) => o.id !== account.parentId && o.name !== 'Suspended')!;
  const since = new Date().toISOString();
  sim.admin.moveAccount({ accountId: account.id, destinationParentId: ou.id });
  const delta = await run({ mode: 'delta', since });
  expect(delta.org).toMatchObject({ status: 'complete' });
  const inOrg = [...sim.world.accounts.values()].filter((a) => a.inOrg);
  expect(delta.calledTimes('organizations:ListTagsForResource')).toBe(1 + sim.world.ous.size + inOrg.length);
  expect(delta.entities.find((e) => e.kind === 'aws.account' && e.accountId === account.id)?.attributes['ouPath']).toEqual(expect.arrayContaining([ou.id]));
});
