// The organization, IAM and Identity Center sources against moto (an AWS emulator we did
// not write): what they emit must be what moto's seeded state implies.
import { seedMoto, startMoto, type MotoServer, type MotoWorld } from '../moto/moto.js';
import { organizationSource } from '../../src/sync/sources/organization.js';
import { iamSource } from '../../src/sync/sources/iam.js';
import { ssoSource } from '../../src/sync/sources/sso.js';
import { ssoAssignmentsSource } from '../../src/sync/sources/sso-assignments.js';
import { ids } from '../../src/sync/ids.js';
import type { Entity } from '../../src/protocol/messages.js';
import type { SyncPlan } from '../../src/sync/types.js';
import { awsLayer, destroyAwsLayers, useAwsEnv } from '../helpers/aws.js';
import { runAllUnits, runSource } from '../helpers/sync.js';

let moto: MotoServer;
let w: MotoWorld;
let restore: () => void;

beforeAll(async () => {
  moto = await startMoto();
  w = await seedMoto(moto.url);
  restore = useAwsEnv(moto.env);
}, 60_000);
afterAll(async () => {
  destroyAwsLayers();
  restore();
  await moto.stop();
});

// enableAudit: the Identity Center source also reads users' sign-ins from CloudTrail.
const layer = () => awsLayer({ roleArn: w.connector.managementRoleArn, externalId: w.connector.externalId, ssoRegion: 'us-east-1', enableAudit: true });
const idsOf = (es: Entity[], kind: string) => es.filter((e) => e.kind === kind).map((e) => e.id).sort();

function plan(l: ReturnType<typeof layer>): SyncPlan {
  const org = { managementAccountId: w.managementAccountId, id: w.organization.id };
  const accounts = [w.managementAccountId, ...w.accounts.map((a) => a.id)].sort().map((id) => ({ id, arn: ids.account('aws', id, org), name: id }));
  return { integration: l.integration, partition: 'aws', managementAccountId: w.managementAccountId, organization: { ...org, arn: w.organization.arn }, accounts, regions: ['us-east-1'] };
}

test('organization: the organization, root, OUs and accounts moto holds', async () => {
  const l = layer();
  const p = plan(l);
  const r = await runSource(organizationSource, p, organizationSource.units(p)[0]!, l);
  expect(idsOf(r.entities, 'aws.organization')).toEqual([w.organization.arn]);
  expect(idsOf(r.entities, 'aws.organizationalUnit')).toEqual(Object.values(w.ous).map((o) => o.arn).sort());
  const org = { managementAccountId: w.managementAccountId, id: w.organization.id };
  expect(idsOf(r.entities, 'aws.account')).toEqual([w.managementAccountId, ...w.accounts.map((a) => a.id)].map((id) => ids.account('aws', id, org)).sort());
  const tagged = w.accounts.find((a) => Object.keys(a.tags).length > 0)!;
  expect(r.entities.find((e) => e.accountId === tagged.id && e.kind === 'aws.account')!.tags).toEqual(tagged.tags);
});

test('iam: users, groups, roles, customer-managed policies and access keys of the management account', async () => {
  const l = layer();
  const p = { ...plan(l), accounts: plan(l).accounts.filter((a) => a.id === w.managementAccountId) };
  const r = await runAllUnits(iamSource, p, l);
  expect(idsOf(r.entities, 'iam.user')).toEqual(Object.values(w.iam.users).map((u) => u.arn).sort());
  expect(idsOf(r.entities, 'iam.group')).toEqual(Object.values(w.iam.groups).map((g) => g.arn).sort());
  expect(idsOf(r.entities, 'iam.role')).toEqual([...Object.values(w.iam.roles).map((x) => x.arn), w.connector.managementRoleArn].sort());
  expect(idsOf(r.entities, 'iam.policy')).toEqual(Object.values(w.iam.policies).map((x) => x.arn).sort());
  const keys = Object.entries(w.iam.accessKeys).flatMap(([user, ks]) => ks.map((k) => ids.accessKey(w.iam.users[user as keyof MotoWorld['iam']['users']].arn, k.id)));
  expect(idsOf(r.entities, 'iam.accessKey')).toEqual(keys.sort());
  // moto's ListUsers answers PasswordLastUsed only for a password used: none here.
  for (const u of r.entities.filter((e) => e.kind === 'iam.user')) expect(u.attributes['passwordLastUsed']).toBeNull();
  for (const [role, boundary] of Object.entries(w.iam.boundaries)) {
    const e = r.entities.find((x) => x.kind === 'iam.role' && x.name === role)!;
    expect(e.attributes['permissionsBoundary']).toBe(boundary);
  }
});

test('identity center: the assignments gap keeps that source on the simulator only', async () => {
  const l = layer();
  const p = plan(l);
  // PINNED moto: ListPermissionSetsProvisionedToAccount answers [] even for accounts with
  // assignments (AWS provisions the permission set when it is assigned), so the
  // assignments source finds nothing to list there.
  const asg = await runAllUnits(ssoAssignmentsSource, p, l);
  expect(w.identityCenter.assignments.length).toBeGreaterThan(0);
  expect(idsOf(asg.entities, 'sso.accountAssignment')).toEqual([]);
  // If this pin fails after a moto upgrade, compare the source with the seed instead.
});

// Regression: moto lacks two optional reads, which used to fail the whole unit (no
// permission set, user, group or membership at all).
test('identity center: the operations moto lacks leave their attributes unknown; every entity is still sent', async () => {
  const l = layer();
  const p = plan(l);
  const ic = w.identityCenter;
  const r = await runAllUnits(ssoSource, p, l);
  const partition = 'aws';
  expect(idsOf(r.entities, 'sso.permissionSet')).toEqual(Object.values(ic.permissionSets).map((x) => ids.permissionSet(x.arn)).sort());
  expect(idsOf(r.entities, 'sso.user')).toEqual(Object.values(ic.users).map((u) => ids.ssoUser(partition, u.userId)).sort());
  expect(idsOf(r.entities, 'sso.group')).toEqual(Object.values(ic.groups).map((g) => ids.ssoGroup(partition, g.groupId)).sort());
  expect(idsOf(r.entities, 'sso.groupMembership')).toEqual(ic.memberships.map((m) => ids.ssoGroupMembership(partition, m.membershipId)).sort());
  // PINNED moto: GetPermissionsBoundaryForPermissionSet, sso-admin ListTagsForResource and
  // CloudTrail LookupEvents (the users' last sign-in) are not implemented (HTTP 500 with an
  // HTML page, after the SDK's retries).
  expect([...r.gaps].sort((a, b) => a.action.localeCompare(b.action))).toEqual([
    { action: 'cloudtrail:LookupEvents', reason: 'unavailable', accountId: w.managementAccountId },
    { action: 'sso:GetPermissionsBoundaryForPermissionSet', reason: 'unavailable', accountId: w.managementAccountId },
    { action: 'sso:ListTagsForResource', reason: 'unavailable', accountId: w.managementAccountId },
  ]);
  for (const ps of r.entities.filter((e) => e.kind === 'sso.permissionSet')) {
    expect(ps.attributes['unknownAttributes']).toEqual(['permissionsBoundary', 'tags']);
    expect(ps.attributes['managedPolicyArns']).toEqual(expect.any(Array)); // what moto has is still read
  }
  for (const u of r.entities.filter((e) => e.kind === 'sso.user')) expect(u.attributes['unknownAttributes']).toEqual(['lastSignInAt', 'lastSignInWindowStart']);
});
