// The organization: the organization itself, roots, OUs (walked from the root, skipping
// excluded subtrees) and accounts with their state, OU path and tags. Its aws.account
// entities are what the runner plans the rest of the sync from.
//
// For an aws-account integration it emits the single account (and the organization it
// belongs to, when the account may read it).
import {
  DescribeOrganizationCommand,
  ListAccountsForParentCommand,
  ListOrganizationalUnitsForParentCommand,
  ListRootsCommand,
  ListTagsForResourceCommand,
  OrganizationsClient,
  type Account,
} from '@aws-sdk/client-organizations';
import { ConnectorError } from '../../errors.js';
import { paginate, pageSize } from '../../aws/paginate.js';
import type { Entity } from '../../protocol/messages.js';
import { ids } from '../ids.js';
import { tagRecord, type EntitySource, type SourceContext, type SyncPlan } from '../types.js';
import { optionalRead, optionalTags, withUnknowns } from '../optional.js';

/** Tags are optional: without them the tree is still discovered (and the sync can run). */
async function tagsOf(ctx: SourceContext, org: OrganizationsClient, resourceId: string) {
  const tags = await optionalRead(ctx, 'organizations:ListTagsForResource', async () => {
    const list: Array<{ Key?: string; Value?: string }> = [];
    for await (const page of paginate(async (t) => {
      const o = await org.send(new ListTagsForResourceCommand({ ResourceId: resourceId, NextToken: t }));
      return { items: o.Tags, next: o.NextToken };
    })) {
      list.push(...page);
    }
    return tagRecord(list);
  });
  return optionalTags(ctx.plan.integration, tags);
}

/**
 * The tags of a whole page (20) are asked at once and used in order. This walk is the
 * sync's bottleneck (one ListTagsForResource per account and OU in the management
 * account's Organizations bucket): asked one after the other, each call also waited for
 * the last one's answer to come through an event loop busy with every other unit. The rate
 * limiter still paces them at the bucket's rate. The root's tags are read first and alone,
 * so a denied action is known (and not asked again) before any page is.
 */
function prefetch<T>(reads: Array<Promise<T>>): Array<Promise<T>> {
  // Each is awaited in turn; one that fails while an earlier one is awaited must not be
  // reported as unhandled (its failure is thrown where it is awaited).
  for (const r of reads) r.catch(() => undefined);
  return reads;
}

/** State of an account: `State` where AWS sends it (the `Status` field is being retired). */
export function accountState(a: Pick<Account, 'State' | 'Status'>): string {
  return (a.State as string | undefined) ?? (a.Status as string | undefined) ?? 'UNKNOWN';
}

async function* organizationEntities(ctx: SourceContext): AsyncGenerator<Entity> {
  const { plan } = ctx;
  const integ = plan.integration;
  const org = await ctx.session.managementClient(OrganizationsClient);
  const o = (await org.send(new DescribeOrganizationCommand({}))).Organization;
  if (!o?.Id || !o.Arn || !o.MasterAccountId) throw new ConnectorError('AWS_ORGANIZATION_UNAVAILABLE', 'organizations.DescribeOrganization returned no organization');
  const orgRef = { managementAccountId: o.MasterAccountId, id: o.Id };
  yield {
    kind: 'aws.organization',
    id: ids.organization(o.Arn),
    name: o.Id,
    accountId: o.MasterAccountId,
    arn: o.Arn,
    attributes: { managementAccountId: o.MasterAccountId, featureSet: o.FeatureSet },
  };
  const excluded = new Set(integ.excludeOrganizationalUnitIds);
  const roots = (await org.send(new ListRootsCommand({ MaxResults: pageSize('organizations') }))).Roots ?? [];
  for (const root of roots) {
    if (!root.Id || !root.Arn) continue;
    const tags = await tagsOf(ctx, org, root.Id);
    yield { kind: 'aws.root', id: ids.root(root.Arn), name: root.Name ?? root.Id, arn: root.Arn, parentId: ids.organization(o.Arn), ...tags.fields, attributes: withUnknowns({ rootId: root.Id, policyTypes: root.PolicyTypes ?? [] }, tags.unknown) };
    // Depth-first over OUs with an explicit stack: the OU path of each account is known
    // when its parent is listed, and memory stays proportional to the tree's depth × width
    // of one level, not to the organization's size.
    const stack: Array<{ id: string; entityId: string; path: string[] }> = [{ id: root.Id, entityId: ids.root(root.Arn), path: [] }];
    while (stack.length > 0) {
      const parent = stack.pop()!;
      for await (const page of paginate(async (t) => {
        const r = await org.send(new ListAccountsForParentCommand({ ParentId: parent.id, MaxResults: pageSize('organizations'), NextToken: t }));
        return { items: r.Accounts, next: r.NextToken };
      })) {
        const listed = page.filter((a): a is Account & { Id: string } => !!a.Id && !integ.excludeAccountIds.includes(a.Id));
        const tagged = prefetch(listed.map((a) => tagsOf(ctx, org, a.Id)));
        for (const [i, a] of listed.entries()) {
          const tags = await tagged[i]!;
          const arn = ids.account(plan.partition, a.Id, orgRef);
          yield {
            kind: 'aws.account',
            id: arn,
            name: a.Name ?? a.Id,
            accountId: a.Id,
            arn: a.Arn ?? arn,
            parentId: parent.entityId,
            ...tags.fields,
            attributes: withUnknowns(
              {
                state: accountState(a),
                email: a.Email,
                joinedMethod: a.JoinedMethod,
                joinedTimestamp: a.JoinedTimestamp?.toISOString(),
                ouPath: parent.path,
                management: a.Id === o.MasterAccountId,
              },
              tags.unknown,
            ),
          };
        }
      }
      for await (const page of paginate(async (t) => {
        const r = await org.send(new ListOrganizationalUnitsForParentCommand({ ParentId: parent.id, MaxResults: pageSize('organizations'), NextToken: t }));
        return { items: r.OrganizationalUnits, next: r.NextToken };
      })) {
        // An excluded OU hides its whole subtree, the OU itself included.
        const listed = page.filter((ou): ou is typeof ou & { Id: string; Arn: string } => !!ou.Id && !!ou.Arn && !excluded.has(ou.Id));
        const tagged = prefetch(listed.map((ou) => tagsOf(ctx, org, ou.Id)));
        for (const [i, ou] of listed.entries()) {
          const tags = await tagged[i]!;
          yield { kind: 'aws.organizationalUnit', id: ids.organizationalUnit(ou.Arn), name: ou.Name ?? ou.Id, arn: ou.Arn, parentId: parent.entityId, ...tags.fields, attributes: withUnknowns({ ouId: ou.Id, path: parent.path }, tags.unknown) };
          stack.push({ id: ou.Id, entityId: ids.organizationalUnit(ou.Arn), path: [...parent.path, ou.Id] });
        }
      }
    }
  }
}

async function* singleAccount(ctx: SourceContext): AsyncGenerator<Entity> {
  const { plan } = ctx;
  const accountId = plan.managementAccountId;
  // A member account may describe its organization; outside one, the account stands alone.
  let orgRef: { managementAccountId: string; id: string } | undefined;
  try {
    const org = await ctx.session.managementClient(OrganizationsClient);
    const o = (await org.send(new DescribeOrganizationCommand({}))).Organization;
    if (o?.Id && o.MasterAccountId) orgRef = { managementAccountId: o.MasterAccountId, id: o.Id };
  } catch {
    orgRef = undefined;
  }
  const arn = ids.account(plan.partition, accountId, orgRef);
  yield { kind: 'aws.account', id: arn, name: accountId, accountId, arn, attributes: { state: 'ACTIVE', ouPath: [], management: orgRef?.managementAccountId === accountId } };
}

export const organizationSource: EntitySource = {
  name: 'organization',
  scope: 'discovery',
  entityKinds: ['aws.organization', 'aws.root', 'aws.organizationalUnit', 'aws.account'],
  requiredActions: [
    'organizations:DescribeOrganization',
    'organizations:ListRoots',
    'organizations:ListOrganizationalUnitsForParent',
    'organizations:ListAccountsForParent',
    'organizations:ListTagsForResource',
  ],
  units: (plan: SyncPlan) => [{ source: 'organization', accountId: plan.managementAccountId, region: 'global' }],
  read: (ctx) => (ctx.plan.integration.type === 'aws-account' ? singleAccount(ctx) : organizationEntities(ctx)),
};
