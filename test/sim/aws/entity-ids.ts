// Entity id conventions (docs/protocol.md, "Entities and coverage"): the one place that says what `id` a sync emits for
// each kind. The connector's sync code and the simulator's ground truth both follow it, so a
// sync can be checked against the ground truth id by id. Every id takes the partition from
// its input; nothing here assumes `aws`.

export type EntityKind =
  | 'aws.organization' | 'aws.root' | 'aws.organizationalUnit' | 'aws.account'
  | 'sso.instance' | 'sso.permissionSet' | 'sso.user' | 'sso.group' | 'sso.groupMembership' | 'sso.accountAssignment'
  | 'iam.user' | 'iam.accessKey' | 'iam.group' | 'iam.role' | 'iam.policy'
  | 'ec2.managedInstance' | 'resource'
  | 'sso.effectiveAccess' | 'sso.permissionSetPolicy' | 'iam.groupPolicy';

export interface EntityRef { kind: EntityKind; id: string }

export const entityIds = {
  /** Organization, root, OU: the ARNs Organizations returns. */
  organization: (orgArn: string) => orgArn,
  root: (rootArn: string) => rootArn,
  organizationalUnit: (ouArn: string) => ouArn,
  /**
   * Account: the Organizations account ARN
   * (`arn:<p>:organizations::<managementAccountId>:account/<orgId>/<accountId>`, which a
   * member account can build from DescribeOrganization). An account outside any
   * organization (an `aws-account` integration): `arn:<p>:iam::<accountId>:root`.
   */
  account: (partition: string, accountId: string, org?: { managementAccountId: string; id: string }) =>
    org ? `arn:${partition}:organizations::${org.managementAccountId}:account/${org.id}/${accountId}` : `arn:${partition}:iam::${accountId}:root`,
  ssoInstance: (instanceArn: string) => instanceArn,
  permissionSet: (permissionSetArn: string) => permissionSetArn,
  ssoUser: (partition: string, userId: string) => `arn:${partition}:identitystore:::user/${userId}`,
  ssoGroup: (partition: string, groupId: string) => `arn:${partition}:identitystore:::group/${groupId}`,
  ssoGroupMembership: (partition: string, membershipId: string) => `arn:${partition}:identitystore:::membership/${membershipId}`,
  accountAssignment: (permissionSetArn: string, accountId: string, principalType: string, principalId: string) =>
    `${permissionSetArn}|${accountId}|${principalType}|${principalId}`,
  /** IAM users, groups, roles and managed policies: their ARNs. */
  iam: (entityArn: string) => entityArn,
  accessKey: (userArn: string, accessKeyId: string) => `${userArn}/accessKey/${accessKeyId}`,
  /** Any SSM-managed instance, whatever SSM calls it. */
  managedInstance: (partition: string, region: string, accountId: string, instanceId: string) =>
    `arn:${partition}:ec2:${region}:${accountId}:instance/${instanceId}`,
  resource: (resourceArn: string) => resourceArn,
  /**
   * Derived entities (sync params `expand: true`). Effective access: one per user, account,
   * permission set and path (a direct USER assignment, or a GROUP assignment of a group
   * the user is in): `<psArn>|<accountId>|USER|<userId>|via:direct` or `…|via:GROUP/<groupId>`.
   */
  effectiveAccess: (permissionSetArn: string, accountId: string, userId: string, viaGroupId?: string) =>
    `${permissionSetArn}|${accountId}|USER|${userId}|via:${viaGroupId === undefined ? 'direct' : `GROUP/${viaGroupId}`}`,
  /** A managed policy a permission set carries: `<psArn>|policy|<policyArn>`. */
  permissionSetPolicy: (permissionSetArn: string, policyArn: string) => `${permissionSetArn}|policy|${policyArn}`,
  /** A managed policy attached to an IAM group: `<groupArn>|policy|<policyArn>`. */
  groupPolicy: (groupArn: string, policyArn: string) => `${groupArn}|policy|${policyArn}`,
};

/** Partition of an ARN (`arn:aws-us-gov:…` → `aws-us-gov`). */
export function partitionOf(anyArn: string): string {
  return anyArn.split(':')[1] ?? 'aws';
}

/** Stable text form of a set of entity refs, for hashing and diffing. */
export function canonicalRefs(refs: EntityRef[]): string[] {
  return [...new Set(refs.map((r) => `${r.kind} ${r.id}`))].sort();
}
