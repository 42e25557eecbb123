// Entity ids (docs/protocol.md, "Entities and coverage": stable across syncs, the ARN where one exists). The AWS
// simulator's ground truth follows the same conventions (test/sim/aws/entity-ids.ts), and
// a test checks the two agree, so a sync can be compared with the truth id by id.
export const ids = {
  organization: (orgArn: string) => orgArn,
  root: (rootArn: string) => rootArn,
  organizationalUnit: (ouArn: string) => ouArn,
  /** The Organizations account ARN; outside an organization, the account's IAM root ARN. */
  account: (partition: string, accountId: string, org?: { managementAccountId: string; id: string }) =>
    org ? `arn:${partition}:organizations::${org.managementAccountId}:account/${org.id}/${accountId}` : `arn:${partition}:iam::${accountId}:root`,
  ssoInstance: (instanceArn: string) => instanceArn,
  permissionSet: (permissionSetArn: string) => permissionSetArn,
  ssoUser: (partition: string, userId: string) => `arn:${partition}:identitystore:::user/${userId}`,
  ssoGroup: (partition: string, groupId: string) => `arn:${partition}:identitystore:::group/${groupId}`,
  ssoGroupMembership: (partition: string, membershipId: string) => `arn:${partition}:identitystore:::membership/${membershipId}`,
  accountAssignment: (permissionSetArn: string, accountId: string, principalType: string, principalId: string) =>
    `${permissionSetArn}|${accountId}|${principalType}|${principalId}`,
  iam: (arn: string) => arn,
  accessKey: (userArn: string, accessKeyId: string) => `${userArn}/accessKey/${accessKeyId}`,
  managedInstance: (partition: string, region: string, accountId: string, instanceId: string) =>
    `arn:${partition}:ec2:${region}:${accountId}:instance/${instanceId}`,
  resource: (arn: string) => arn,
  // Derived entities (src/sync/expand.ts): built only from the ids of the facts they come
  // from, so the same facts give the same id in every sync. `via` is `direct` or the
  // Identity Store group id the user reaches the account through.
  effectiveAccess: (permissionSetArn: string, accountId: string, userId: string, via: { groupId: string } | 'direct') =>
    `${permissionSetArn}|${accountId}|USER|${userId}|via:${via === 'direct' ? 'direct' : `GROUP/${via.groupId}`}`,
  permissionSetPolicy: (permissionSetArn: string, policyArn: string) => `${permissionSetArn}|policy|${policyArn}`,
  groupPolicy: (groupArn: string, policyArn: string) => `${groupArn}|policy|${policyArn}`,
};
