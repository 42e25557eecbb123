// SSM-managed instances, one unit per entered account × region: what ec2.ssmSession and
// ec2.localUser grants can target.
//
// Tags: DescribeInstanceInformation returns none. Hybrid (`mi-`) nodes get theirs from
// ssm:ListTagsForResource (ResourceType ManagedInstance), one call per node. An EC2 instance's
// tags live in EC2 (ec2:DescribeTags), for which the connector has no client or permission;
// its entity id is the instance ARN, which is also the id of the `resource` entity Resource
// Explorer reports for it, tags included, so the control plane joins the two by id.
import { DescribeInstanceInformationCommand, ListTagsForResourceCommand, SSMClient, type InstanceInformation } from '@aws-sdk/client-ssm';
import { awsErrorCode } from '../../aws/errors.js';
import { paginate, pageSize } from '../../aws/paginate.js';
import { ConnectorError } from '../../errors.js';
import type { Entity } from '../../protocol/messages.js';
import { ids } from '../ids.js';
import { tagRecord, type EntitySource, type SourceContext, type SyncPlan, type SyncUnit } from '../types.js';
import { optionalRead, optionalTags, withUnknowns, type Unknown } from '../optional.js';

/** The 17 regions every `aws` account has; every region launched since March 2019 is opt-in. */
const ENABLED_BY_DEFAULT = new Set([
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'sa-east-1',
  'eu-west-1', 'eu-west-2', 'eu-west-3', 'eu-central-1', 'eu-north-1',
  'ap-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ap-southeast-1', 'ap-southeast-2',
]);

/**
 * For the runner: true when a unit failed only because its account has not enabled the
 * unit's opt-in region. Nothing can exist there, so the unit is `skipped`, not failed.
 */
export function isRegionDisabled(err: unknown): err is ConnectorError {
  return err instanceof ConnectorError && err.code === 'AWS_REGION_DISABLED';
}

/**
 * AWS refuses credentials in an opt-in region the account has not enabled, as if it did not
 * know them (UnrecognizedClientException; InvalidClientTokenId from query services). In a
 * region every account has, the same codes mean bad credentials and stay an error.
 */
function rejectedInOptInRegion(err: unknown, partition: string, region: string): boolean {
  const code = awsErrorCode(err);
  return partition === 'aws' && !ENABLED_BY_DEFAULT.has(region) && (code === 'UnrecognizedClientException' || code === 'InvalidClientTokenId');
}

/** Tags of an on-premises instance: optional, the instance is sent without them. */
function hybridTags(ctx: SourceContext, ssm: SSMClient, instanceId: string) {
  return optionalRead(ctx, 'ssm:ListTagsForResource', async () => {
    const out = await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'ManagedInstance', ResourceId: instanceId }));
    return tagRecord(out.TagList);
  });
}

function entity(ctx: SourceContext, i: InstanceInformation & { InstanceId: string }, tagsRead: Record<string, string> | undefined | Unknown, parentId: string | undefined): Entity {
  const tags = optionalTags(ctx.plan.integration, tagsRead);
  const { plan, unit } = ctx;
  const hybrid = i.InstanceId.startsWith('mi-');
  return {
    kind: 'ec2.managedInstance',
    id: ids.managedInstance(plan.partition, unit.region, unit.accountId, i.InstanceId),
    name: i.Name || i.ComputerName || i.InstanceId,
    accountId: unit.accountId,
    region: unit.region,
    ...(parentId !== undefined && { parentId }),
    arn: hybrid
      ? `arn:${plan.partition}:ssm:${unit.region}:${unit.accountId}:managed-instance/${i.InstanceId}`
      : `arn:${plan.partition}:ec2:${unit.region}:${unit.accountId}:instance/${i.InstanceId}`,
    ...tags.fields,
    attributes: withUnknowns({
      instanceId: i.InstanceId,
      resourceType: i.ResourceType,
      platformType: i.PlatformType,
      platformName: i.PlatformName,
      platformVersion: i.PlatformVersion,
      pingStatus: i.PingStatus,
      agentVersion: i.AgentVersion,
      computerName: i.ComputerName,
      ipAddress: i.IPAddress,
      iamRole: i.IamRole,
      lastPingDateTime: i.LastPingDateTime?.toISOString(),
    }, tags.unknown),
  };
}

async function* read(ctx: SourceContext): AsyncGenerator<Entity> {
  const { accountId, region } = ctx.unit;
  const ssm = await ctx.session.memberClient(SSMClient, accountId, region);
  const parentId = ctx.plan.accounts.find((a) => a.id === accountId)?.arn;
  const pages = paginate(async (token) => {
    const r = await ssm.send(new DescribeInstanceInformationCommand({ MaxResults: pageSize('ssmInstanceInformation'), NextToken: token }));
    return { items: r.InstanceInformationList, next: r.NextToken };
  });
  try {
    for await (const page of pages) {
      for (const i of page) {
        if (!i.InstanceId) continue;
        const tags = i.InstanceId.startsWith('mi-') ? await hybridTags(ctx, ssm, i.InstanceId) : undefined;
        yield entity(ctx, { ...i, InstanceId: i.InstanceId }, tags, parentId);
      }
    }
  } catch (err) {
    if (rejectedInOptInRegion(err, ctx.plan.partition, region)) {
      throw new ConnectorError('AWS_REGION_DISABLED', `ssm.DescribeInstanceInformation in ${accountId}/${region}: the account has not enabled the opt-in region ${region}; skipped`, { cause: err });
    }
    throw err;
  }
}

export const ec2Source: EntitySource = {
  name: 'ec2',
  scope: 'account',
  resourceType: 'ec2',
  entityKinds: ['ec2.managedInstance'],
  requiredActions: ['ssm:DescribeInstanceInformation', 'ssm:ListTagsForResource'],
  units: (plan: SyncPlan): SyncUnit[] => plan.accounts.flatMap((a) => plan.regions.map((region) => ({ source: 'ec2' as const, accountId: a.id, region }))),
  read,
};
