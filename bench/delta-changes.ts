// The changes a delta sync is measured after (bench/sync.ts --delta-changes N): a realistic
// mix of what happens between two syncs, deletions included, each made in the simulator's
// world and logged in CloudTrail as AWS would log it (account, region, event source,
// request parameters). Of every 20: 15 IAM changes in 15 member accounts (6 users created,
// 4 deleted, 5 managed policies attached to roles), 4 Identity Center changes (a group
// membership deleted, an account assignment deleted, one created, a user created) and one
// account's tags changed in Organizations.
import { randomUUID } from 'node:crypto';
import type { AwsSimulator } from '../test/sim/aws/index.js';

type Change = 'iam-create-user' | 'iam-delete-user' | 'iam-attach-role-policy' | 'sso-delete-membership' | 'sso-delete-assignment' | 'sso-create-assignment' | 'sso-create-user' | 'org-tag-account';

const MIX: Change[] = [
  'iam-create-user', 'iam-delete-user', 'iam-attach-role-policy', 'sso-delete-membership', 'iam-create-user',
  'iam-delete-user', 'iam-attach-role-policy', 'sso-delete-assignment', 'iam-create-user', 'iam-attach-role-policy',
  'org-tag-account', 'iam-create-user', 'iam-delete-user', 'sso-create-user', 'iam-attach-role-policy',
  'iam-create-user', 'iam-delete-user', 'sso-create-assignment', 'iam-attach-role-policy', 'iam-create-user',
];

/** Makes `n` changes; returns how many of each kind. */
export function makeChanges(sim: AwsSimulator, n: number): Record<string, number> {
  const w = sim.world;
  const mgmt = w.organization!.managementAccountId;
  const sso = w.sso!;
  const members = [...w.accounts.values()].filter((a) => a.inOrg && a.state === 'ACTIVE' && a.id !== mgmt);
  const connectorRoles = new Set([w.connector.memberRoleName, w.connector.managementRoleName]);
  const iamEvent = (accountId: string, eventName: string, requestParameters: Record<string, unknown>) =>
    sim.admin.addTrailEvent({ accountId, region: 'us-east-1', eventSource: 'iam.amazonaws.com', eventName, username: 'bench', requestParameters });
  const icEvent = (eventSource: string, eventName: string, requestParameters: Record<string, unknown>) =>
    sim.admin.addTrailEvent({ accountId: mgmt, region: sso.region, eventSource, eventName, username: 'bench', requestParameters });
  const done: Record<string, number> = {};
  let nextAccount = 0;
  for (let i = 0; i < n; i++) {
    const change = MIX[i % MIX.length]!;
    done[change] = (done[change] ?? 0) + 1;
    switch (change) {
      case 'iam-create-user': {
        const a = members[nextAccount++]!;
        const userName = `bench-user-${i}`;
        sim.admin.createUser({ accountId: a.id, userName });
        iamEvent(a.id, 'CreateUser', { userName });
        break;
      }
      case 'iam-delete-user': {
        const a = members[nextAccount++]!;
        const user = [...a.iam.users.keys()][0]!;
        sim.admin.deleteUser({ accountId: a.id, userName: user });
        iamEvent(a.id, 'DeleteUser', { userName: user });
        break;
      }
      case 'iam-attach-role-policy': {
        const a = members[nextAccount++]!;
        const role = [...a.iam.roles.values()].find((r) => !connectorRoles.has(r.name))!;
        const policyArn = `arn:${w.partition}:iam::aws:policy/ReadOnlyAccess`;
        role.attached = [...(role.attached ?? []).filter((p) => p !== policyArn), policyArn];
        iamEvent(a.id, 'AttachRolePolicy', { roleName: role.name, policyArn });
        break;
      }
      case 'sso-delete-membership': {
        const m = [...sso.memberships.values()][i]!;
        sso.memberships.delete(m.MembershipId);
        icEvent('identitystore.amazonaws.com', 'DeleteGroupMembership', { identityStoreId: sso.identityStoreId, membershipId: m.MembershipId });
        break;
      }
      case 'sso-delete-assignment': {
        const a = sim.admin.listAssignments().find((x) => x.accountId !== mgmt)!;
        sim.admin.removeAssignment(a);
        icEvent('sso.amazonaws.com', 'DeleteAccountAssignment', { instanceArn: sso.arn, targetId: a.accountId, targetType: 'AWS_ACCOUNT', permissionSetArn: a.permissionSetArn, principalType: a.principalType, principalId: a.principalId });
        break;
      }
      case 'sso-create-assignment': {
        const target = members[members.length - 1 - i]!;
        const a = { accountId: target.id, permissionSetArn: [...sso.permissionSets.keys()][0]!, principalType: 'USER' as const, principalId: [...sso.users.keys()][i]! };
        sim.admin.addAssignment(a);
        icEvent('sso.amazonaws.com', 'CreateAccountAssignment', { instanceArn: sso.arn, targetId: a.accountId, targetType: 'AWS_ACCOUNT', permissionSetArn: a.permissionSetArn, principalType: a.principalType, principalId: a.principalId });
        break;
      }
      case 'sso-create-user': {
        const id = `${sso.identityStoreId.slice(2, 12)}-${randomUUID()}`;
        const userName = `bench-${i}@example.com`;
        sso.users.set(id, { UserId: id, UserName: userName, DisplayName: `Bench ${i}`, Name: { GivenName: 'Bench', FamilyName: String(i) }, Emails: [] });
        icEvent('identitystore.amazonaws.com', 'CreateUser', { identityStoreId: sso.identityStoreId, userName });
        break;
      }
      case 'org-tag-account': {
        sim.admin.tagOrganizationResource({ resourceId: members[members.length - 1]!.id, tags: { 'cost-center': `cc-${i}` }, username: 'bench' });
        break;
      }
    }
  }
  return done;
}
