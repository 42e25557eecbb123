// Delta syncs: units whose CloudTrail feed shows changes since `since` are read in full
// (complete); the others are not read (skipped, reason unchanged).
import { CreateAccountAssignmentCommand, DeleteAccountAssignmentCommand, ListInstancesCommand, ListPermissionSetsCommand, SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { DeleteGroupMembershipCommand, IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { ids } from '../../src/sync/ids.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { startAwsSimulator, type AwsSimulator } from '../sim/aws/index.js';
import { DEMO_EXTERNAL_ID, DEMO_MANAGEMENT_ACCOUNT, demoIntegration } from '../sim/aws/worlds/demo.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { until } from '../helpers/wait.js';
import type { Entity } from '../../src/protocol/messages.js';

let sim: AwsSimulator;
let cp: ReferenceControlPlane;
let connector: ConnectorProcess;
let restore: () => void;
const integration = demoIntegration({ id: 'int-delta', resourceTypes: ['iam' as const, 'sso' as const] });

beforeAll(async () => {
  sim = await startAwsSimulator({ world: 'demo', quotas: false });
  restore = useAwsEnv(sim.env);
  cp = await ReferenceControlPlane.start();
  connector = new ConnectorProcess({ ...connectorEnv(cp.url), ...sim.env, AWS_QUOTA_MULTIPLIER: '50' });
  // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
  await cp.waitForSession(20_000);
});
afterAll(async () => {
  destroyAwsLayers();
  restore();
  await connector.stop();
  await cp.close();
  await sim.close();
});

async function run(params: Record<string, unknown>) {
  const { jobId } = cp.sendJob({ jobType: 'sync', integration, params });
  const result = await cp.waitForResult(jobId, 60_000);
  const entities = cp.unique().filter((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId).flatMap((f) => f.frame!['entities'] as Entity[]);
  return { result, entities, output: result.output as { mode: string; coverage: Array<{ accountId: string; source: string; status: string; reason?: string }>; warnings: Array<{ code: string }> } };
}

test('only the units with changes in their feed are read; the rest are skipped as unchanged', async () => {
  const accounts = [...sim.world.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== DEMO_MANAGEMENT_ACCOUNT).map((a) => a.id);
  const [iamChanged, assigned] = [accounts[0]!, accounts[1]!];
  const since = new Date().toISOString();
  // An IAM change in one account (as CloudTrail logs it: global service, home region)…
  sim.admin.addTrailEvent({ accountId: iamChanged, region: 'us-east-1', eventSource: 'iam.amazonaws.com', eventName: 'TagRole', username: 'someone', resourceName: 'some-role' });
  // …and a real assignment made in another, through Identity Center.
  const { session } = awsLayer({ roleArn: integration.roleArn, externalId: DEMO_EXTERNAL_ID });
  const sso = await session.managementClient(SSOAdminClient);
  const inst = (await sso.send(new ListInstancesCommand({}))).Instances![0]!;
  const ps = (await sso.send(new ListPermissionSetsCommand({ InstanceArn: inst.InstanceArn! }))).PermissionSets![0]!;
  const user = [...sim.world.sso!.users.keys()][0]!;
  await sso.send(new CreateAccountAssignmentCommand({ InstanceArn: inst.InstanceArn!, TargetId: assigned, TargetType: 'AWS_ACCOUNT', PermissionSetArn: ps, PrincipalType: 'USER', PrincipalId: user }));
  // AWS makes the assignment asynchronously. The full sync is the reference the delta is
  // compared with, so it must start once the assignment exists: on a loaded machine it
  // could otherwise read that account's assignments first and miss it.
  await until(() => sim.admin.hasAssignment({ accountId: assigned, permissionSetArn: ps, principalType: 'USER', principalId: user }), 20_000, 'the assignment to be made');

  const full = await run({ mode: 'full' });
  const delta = await run({ mode: 'delta', since });
  expect(delta.result.status).toBe('succeeded');
  expect(delta.output.mode).toBe('delta');
  const status = (source: string, accountId: string) => delta.output.coverage.find((c) => c.source === source && c.accountId === accountId);
  expect(status('iam', iamChanged)).toMatchObject({ status: 'complete' });
  expect(status('iam', assigned)).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  expect(status('sso-assignments', assigned)).toMatchObject({ status: 'complete' });
  expect(status('sso-assignments', iamChanged)).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  expect(status('sso', DEMO_MANAGEMENT_ACCOUNT)).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  // No Organizations event: the tree is walked for the plan, not re-sent (delta-sources.test.ts).
  expect(status('organization', DEMO_MANAGEMENT_ACCOUNT)).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  // What the delta sent: the accounts not ACTIVE, IAM of the changed account only, assignments of
  // the changed account only — each exactly as the full sync has them.
  const iamAccounts = new Set(delta.entities.filter((e) => e.kind.startsWith('iam.')).map((e) => e.accountId));
  expect([...iamAccounts]).toEqual([iamChanged]);
  const assignmentAccounts = new Set(delta.entities.filter((e) => e.kind === 'sso.accountAssignment').map((e) => e.accountId));
  expect([...assignmentAccounts]).toEqual([assigned]);
  const fullIds = new Set(full.entities.map((e) => e.id));
  for (const e of delta.entities) expect(fullIds.has(e.id)).toBe(true);
  expect(delta.entities.filter((e) => e.kind.startsWith('iam.')).length).toBe(full.entities.filter((e) => e.kind.startsWith('iam.') && e.accountId === iamChanged).length);
  expect(delta.entities.length).toBeLessThan(full.entities.length / 3);
});

test('Identity Center deletions the feed names exactly are sent with deleted: true', async () => {
  const { session } = awsLayer({ roleArn: integration.roleArn, externalId: DEMO_EXTERNAL_ID });
  const since = new Date().toISOString();
  const sso = await session.managementClient(SSOAdminClient);
  const inst = (await sso.send(new ListInstancesCommand({}))).Instances![0]!;
  const existing = [...sim.world.sso!.assignments.values()][0]!;
  await sso.send(new DeleteAccountAssignmentCommand({ InstanceArn: inst.InstanceArn!, TargetId: existing.accountId, TargetType: 'AWS_ACCOUNT', PermissionSetArn: existing.permissionSetArn, PrincipalType: existing.principalType, PrincipalId: existing.principalId }));
  const membership = [...sim.world.sso!.memberships.values()][0]!;
  const store = await session.managementClient(IdentitystoreClient);
  await store.send(new DeleteGroupMembershipCommand({ IdentityStoreId: sim.world.sso!.identityStoreId, MembershipId: membership.MembershipId }));
  const delta = await run({ mode: 'delta', since });
  const deleted = delta.entities.filter((e) => e.deleted).map((e) => [e.kind, e.id]);
  expect(deleted).toEqual(
    expect.arrayContaining([
      ['sso.accountAssignment', ids.accountAssignment(existing.permissionSetArn, existing.accountId, existing.principalType, existing.principalId)],
      ['sso.groupMembership', ids.ssoGroupMembership('aws', membership.MembershipId)],
    ]),
  );
  expect(deleted).toHaveLength(2);
  expect((delta.result.output as { deleted: number }).deleted).toBe(2);
  // The membership's deletion is exact: the sso unit is not read in full (delta-sources.test.ts).
  expect(delta.output.coverage.find((c) => c.source === 'sso')).toMatchObject({ status: 'skipped', reason: 'unchanged' });
});

test('an account whose feed cannot be read is read in full, with a warning', async () => {
  const account = [...sim.world.accounts.values()].find((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== DEMO_MANAGEMENT_ACCOUNT)!.id;
  const role = sim.admin.getRole({ accountId: account, roleName: sim.world.connector.memberRoleName }) as { permissions: { allow: string[] } | null };
  const allow = role.permissions?.allow ?? ['*'];
  sim.admin.setRolePermissions({ accountId: account, roleName: sim.world.connector.memberRoleName, allow, deny: ['cloudtrail:LookupEvents'] });
  try {
    const delta = await run({ mode: 'delta', since: new Date().toISOString() });
    expect(delta.output.coverage.find((c) => c.source === 'iam' && c.accountId === account)).toMatchObject({ status: 'complete' });
    expect(delta.output.warnings.map((w) => w.code)).toContain('DELTA_FEED_UNAVAILABLE');
    expect(delta.entities.some((e) => e.kind === 'iam.role' && e.accountId === account)).toBe(true);
  } finally {
    sim.admin.setRolePermissions({ accountId: account, roleName: sim.world.connector.memberRoleName, allow });
  }
});

// Regression: a resumed delta reported units skipped as unchanged by the first job as complete.
test('a resumed delta asks the feed again for units that were unchanged; they are never complete', async () => {
  const since = new Date().toISOString();
  const first = await run({ mode: 'delta', since });
  const cursor = (first.result.output as { cursor: string }).cursor;
  const resumed = await run({ mode: 'delta', since, resumeFrom: cursor });
  const unchanged = first.output.coverage.filter((c) => c.reason === 'unchanged');
  expect(unchanged.length).toBeGreaterThan(0);
  for (const u of unchanged) {
    expect(resumed.output.coverage.find((c) => c.source === u.source && c.accountId === u.accountId)).toMatchObject({ status: 'skipped', reason: 'unchanged' });
  }
});

// Regression: events of SCIM provisioning (identitystore-scim) were not read as changes.
test('a membership an identity provider adds through SCIM makes the sso unit read in full', async () => {
  const sso = sim.world.sso!;
  const since = new Date().toISOString();
  const groupId = [...sso.groups.keys()][1]!;
  const userId = [...sso.users.keys()][1]!;
  const membershipId = sim.admin.addGroupMembership({ groupId, userId });
  sim.admin.addTrailEvent({ accountId: DEMO_MANAGEMENT_ACCOUNT, region: sso.region, eventSource: 'identitystore-scim.amazonaws.com', eventName: 'PatchGroup', username: 'scim', requestParameters: { tenantId: 'x' } });
  const delta = await run({ mode: 'delta', since });
  expect(delta.output.coverage.find((c) => c.source === 'sso')).toMatchObject({ status: 'complete' });
  expect(delta.entities.some((e) => e.kind === 'sso.groupMembership' && (e.attributes as { membershipId?: string }).membershipId === membershipId)).toBe(true);
});

test('delta without since is rejected as invalid', async () => {
  const { jobId } = cp.sendJob({ jobType: 'sync', integration, params: { mode: 'delta' } });
  const r = await cp.waitFor((f) => f.frame?.['type'] === 'job.rejected' && f.frame['jobId'] === jobId);
  expect(r.frame).toMatchObject({ reason: 'invalid', message: expect.stringMatching(/since/) });
});
