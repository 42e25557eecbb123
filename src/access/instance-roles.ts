// What a shell on an instance really gives, for the policy: anyone who can run commands on
// an EC2 instance can read its instance profile role's credentials from the instance
// metadata service (and `ssm-user` has sudo by default), so Session Manager or a local user
// on an instance is, in effect, access as that role. The policy is checked against the
// role, its managed policies and its boundary, and against the instance's id and tags.
//
// EC2 instances (`i-`): ec2:DescribeInstances gives the profile and the tags, and
// iam:GetInstanceProfile the role. Hybrid nodes (`mi-`) have no instance profile: their
// service role is in ssm:DescribeInstanceInformation (IamRole) and their tags in
// ssm:ListTagsForResource.
import { GetInstanceProfileCommand, GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand } from '@aws-sdk/client-iam';
import { DescribeInstanceInformationCommand, ListTagsForResourceCommand, SSMClient } from '@aws-sdk/client-ssm';
import { isNotFound } from '../aws/errors.js';
import { DescribeInstancesCommand, EC2Client } from '../aws/ec2.js';
import { collect, pageSize, paginate } from '../aws/paginate.js';
import { ConnectorError } from '../errors.js';
import type { AccessContext, PolicyFacts } from './types.js';

/** Every action instanceFacts may call; each EC2 kind lists them in its requiredActions. */
export const INSTANCE_FACT_ACTIONS = [
  'ec2:DescribeInstances',
  'iam:GetInstanceProfile', 'iam:GetRole', 'iam:ListAttachedRolePolicies',
  'ssm:DescribeInstanceInformation', 'ssm:ListTagsForResource',
] as const;

type Instances = NonNullable<PolicyFacts['instances']>;
type InstanceRoles = NonNullable<PolicyFacts['instanceRoles']>;

const listed = (ids: string[]) => (ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')} and ${ids.length - 3} more`);

/** The name in an instance-profile ARN (`arn:…:instance-profile/path/Name`). */
function profileName(arn: string): string | undefined {
  const m = /:instance-profile\/(?:[\x21-\x7e]*\/)?([\w+=,.@-]{1,128})$/.exec(arn);
  return m?.[1];
}

/** A role's ARN, managed policies and boundary (the role may be gone: undefined). */
async function roleFact(iam: IAMClient, roleName: string): Promise<InstanceRoles[number] | undefined> {
  let role;
  try {
    role = (await iam.send(new GetRoleCommand({ RoleName: roleName }))).Role;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  if (!role?.Arn) return undefined;
  const attached = await collect(paginate(async (t) => {
    const o = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: t, MaxItems: pageSize('iam') }));
    return { items: o.AttachedPolicies, next: o.IsTruncated ? o.Marker : undefined };
  }));
  const boundary = role.PermissionsBoundary?.PermissionsBoundaryArn;
  return { arn: role.Arn, managedPolicies: attached.flatMap((a) => (a.PolicyArn ? [a.PolicyArn] : [])), ...(boundary !== undefined && { boundary }) };
}

/**
 * The instances' ids, tags, instance profiles and roles, and each role's managed policies
 * and boundary. An instance EC2 or SSM does not know in that account and region is refused
 * (AWS_NOT_FOUND): what it would give cannot be checked.
 */
export async function instanceFacts(ctx: AccessContext, accountId: string, region: string, instanceIds: readonly string[]): Promise<{ instances: Instances; instanceRoles: InstanceRoles }> {
  const ec2Ids = instanceIds.filter((id) => id.startsWith('i-'));
  const nodeIds = instanceIds.filter((id) => id.startsWith('mi-'));
  const byId = new Map<string, { tags: Record<string, string>; instanceProfileArn?: string; roleName?: string }>();

  if (ec2Ids.length > 0) {
    const ec2 = await ctx.session.memberClient(EC2Client, accountId, region);
    // A filter, not InstanceIds: an unknown id is then missing from the answer instead of failing the whole call.
    for await (const page of paginate(async (t) => {
      const r = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ec2Ids }], MaxResults: pageSize('ec2DescribeInstances'), ...(t !== undefined && { NextToken: t }) }));
      return { items: r.Instances, next: r.NextToken };
    })) {
      for (const i of page) {
        if (!ec2Ids.includes(i.InstanceId)) continue;
        byId.set(i.InstanceId, { tags: Object.fromEntries(i.Tags.map((t) => [t.Key, t.Value])), ...(i.IamInstanceProfile && { instanceProfileArn: i.IamInstanceProfile.Arn }) });
      }
    }
  }
  if (nodeIds.length > 0) {
    const ssm = await ctx.session.memberClient(SSMClient, accountId, region);
    const nodes = await collect(paginate(async (t) => {
      const r = await ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: nodeIds }], MaxResults: pageSize('ssmInstanceInformation'), NextToken: t }));
      return { items: r.InstanceInformationList, next: r.NextToken };
    }));
    for (const n of nodes) {
      if (!n.InstanceId || !nodeIds.includes(n.InstanceId)) continue;
      const tags = (await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'ManagedInstance', ResourceId: n.InstanceId }))).TagList ?? [];
      // IamRole may carry a path ("service-role/Name"); IAM finds a role by its name.
      const roleName = n.IamRole?.split('/').pop();
      byId.set(n.InstanceId, { tags: Object.fromEntries(tags.flatMap((t) => (t.Key !== undefined ? [[t.Key, t.Value ?? '']] : []))), ...(roleName && { roleName }) });
    }
  }
  const unknown = instanceIds.filter((id) => !byId.has(id));
  if (unknown.length > 0) {
    throw new ConnectorError('AWS_NOT_FOUND', `${listed(unknown)} is not an instance in ${accountId}/${region} (ec2.DescribeInstances, ssm.DescribeInstanceInformation): what access to it gives cannot be checked against the policy`);
  }

  const iam = await ctx.session.memberClient(IAMClient, accountId);
  const roleOfProfile = new Map<string, Promise<string | undefined>>();
  const roles = new Map<string, Promise<InstanceRoles[number] | undefined>>();
  const instances: Instances = [];
  for (const id of instanceIds) {
    const i = byId.get(id)!;
    let roleName = i.roleName;
    if (i.instanceProfileArn !== undefined) {
      const name = profileName(i.instanceProfileArn);
      if (name === undefined) throw new ConnectorError('AWS_ERROR', `ec2.DescribeInstances in ${accountId}/${region}: ${id} has an instance profile ARN that names no profile`);
      if (!roleOfProfile.has(name)) {
        roleOfProfile.set(name, (async () => {
          try {
            // A profile holds at most one role (IAM quota, fixed).
            return (await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }))).InstanceProfile?.Roles?.[0]?.RoleName;
          } catch (err) {
            // A profile deleted since gives the instance no credentials.
            if (isNotFound(err)) return undefined;
            throw err;
          }
        })());
      }
      roleName = await roleOfProfile.get(name)!;
    }
    let roleArn: string | undefined;
    if (roleName !== undefined) {
      if (!roles.has(roleName)) roles.set(roleName, roleFact(iam, roleName));
      roleArn = (await roles.get(roleName)!)?.arn;
    }
    instances.push({ id, tags: i.tags, ...(i.instanceProfileArn !== undefined && { instanceProfileArn: i.instanceProfileArn }), ...(roleArn !== undefined && { roleArn }) });
  }
  const instanceRoles = (await Promise.all(roles.values())).filter((r): r is InstanceRoles[number] => r !== undefined);
  return { instances, instanceRoles };
}
