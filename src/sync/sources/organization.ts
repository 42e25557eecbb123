// The organization: the organization itself, roots, OUs (walked from the root, skipping
// excluded subtrees) and accounts with their state, OU path and tags. Its aws.account
// entities are what the runner plans the rest of the sync from.
//
// For an aws-account integration it emits the single account (and the organization it
// belongs to, when the account may read it).
import {
  DescribeOrganizationCommand,
  ListAccountsCommand,
  ListAccountsForParentCommand,
  ListParentsCommand,
  ListOrganizationalUnitsForParentCommand,
  ListRootsCommand,
  ListTagsForResourceCommand,
  OrganizationsClient,
  type Account,
  type OrganizationalUnit,
} from '@aws-sdk/client-organizations';
import { firstInLine } from '../../aws/clients.js';
import { ConnectorError } from '../../errors.js';
import { paginate, pageSize, readAhead } from '../../aws/paginate.js';
import type { Entity } from '../../protocol/messages.js';
import { ids } from '../ids.js';
import { tagRecord, type EntitySource, type SourceContext, type SyncPlan } from '../types.js';
import { optionalRead, optionalTags, withUnknowns } from '../optional.js';

/** Tags are optional: without them the tree is still discovered (and the sync can run). */
async function tagsOf(ctx: SourceContext, org: OrganizationsClient, resourceId: string, state?: string) {
  // A delta with no Organizations change: this entity is not sent, so its tags are not read.
  if (ctx.organizationDelta && !ctx.organizationDelta.readsTags(resourceId, state)) return optionalTags(ctx.plan.integration, undefined);
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

/** An account of the organization as the walk and a delta's flat listing both send it. */
async function accountEntity(ctx: SourceContext, org: OrganizationsClient, a: Account & { Id: string }, at: { parentId: string; ouPath: string[]; orgRef: { managementAccountId: string; id: string }; tags?: ReturnType<typeof tagsOf> }): Promise<Entity> {
  const state = accountState(a);
  const tags = await (at.tags ?? tagsOf(ctx, org, a.Id, state));
  const arn = ids.account(ctx.plan.partition, a.Id, at.orgRef);
  return {
    kind: 'aws.account',
    id: arn,
    name: a.Name ?? a.Id,
    accountId: a.Id,
    arn: a.Arn ?? arn,
    parentId: at.parentId,
    ...tags.fields,
    attributes: withUnknowns(
      {
        state,
        email: a.Email,
        joinedMethod: a.JoinedMethod,
        joinedTimestamp: a.JoinedTimestamp?.toISOString(),
        ouPath: at.ouPath,
        management: a.Id === at.orgRef.managementAccountId,
      },
      tags.unknown,
    ),
  };
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
  const delta = ctx.organizationDelta;
  if (delta && excluded.size === 0 && !delta.touchesOus && roots.length === 1 && roots[0]?.Id && roots[0].Arn) {
    yield* flatAccounts(ctx, org, { ...orgRef, arn: o.Arn }, { id: roots[0].Id, arn: roots[0].Arn, name: roots[0].Name, policyTypes: roots[0].PolicyTypes });
    return;
  }
  for (const root of roots) {
    if (!root.Id || !root.Arn) continue;
    const tags = await tagsOf(ctx, org, root.Id);
    yield { kind: 'aws.root', id: ids.root(root.Arn), name: root.Name ?? root.Id, arn: root.Arn, parentId: ids.organization(o.Arn), ...tags.fields, attributes: withUnknowns({ rootId: root.Id, policyTypes: root.PolicyTypes ?? [] }, tags.unknown) };
    // The tree is listed ahead of the tag reads (listTree, readAhead), and the entities go
    // out in the order it was listed.
    const top: TreeParent = { id: root.Id, entityId: ids.root(root.Arn), path: [] };
    for await (const page of readAhead((stopped) => listTree(ctx, org, top, { excluded, stopped }))) {
      if (page.accounts) {
        // The page's tag reads are asked at once (the rate limiter still paces them).
        const tagged = prefetch(page.accounts.map((a) => tagsOf(ctx, org, a.Id, accountState(a))));
        for (const [i, a] of page.accounts.entries()) {
          yield await accountEntity(ctx, org, a, { parentId: page.parent.entityId, ouPath: page.parent.path, orgRef, tags: tagged[i]! });
        }
      } else {
        const tagged = prefetch(page.ous.map((ou) => tagsOf(ctx, org, ou.Id)));
        for (const [i, ou] of page.ous.entries()) {
          const tags = await tagged[i]!;
          yield { kind: 'aws.organizationalUnit', id: ids.organizationalUnit(ou.Arn), name: ou.Name ?? ou.Id, arn: ou.Arn, parentId: page.parent.entityId, ...tags.fields, attributes: withUnknowns({ ouId: ou.Id, path: page.parent.path }, tags.unknown) };
        }
      }
    }
  }
}

interface TreeParent {
  id: string;
  entityId: string;
  path: string[];
}
/** One page of the tree as listed: accounts or OUs under `parent`, excluded ones left out. */
type TreePage = { parent: TreeParent } & ({ accounts: Array<Account & { Id: string }>; ous?: undefined } | { accounts?: undefined; ous: Array<OrganizationalUnit & { Id: string; Arn: string }> });

/**
 * The tree under `top`, depth first with an explicit stack (the OU path of each account is
 * known when its parent is listed), a page at a time; excluded OUs and accounts left out.
 * Its calls get every other token of the Organizations bucket while the tag reads wait
 * (firstInLine): the tree is listed in about twice the time of its own calls (every OU
 * costs at least two, listing its accounts and its OUs: 15-20 % of the walk's calls in a
 * tree of 16 accounts an OU), and each account is announced (`ctx.listed`) then, not when
 * its tags have been read. The walk's pace is the bucket's either way; what changes is that
 * a listing over every account (Resource Explorer's organization view) learns early which
 * accounts are in, instead of holding their resources until the tag reads reach them and
 * sending them all at the walk's end. Stops before its next call once `stopped()`.
 */
async function* listTree(
  ctx: SourceContext,
  org: OrganizationsClient,
  top: TreeParent,
  o: { excluded: ReadonlySet<string>; stopped: () => boolean },
): AsyncGenerator<TreePage> {
  const integ = ctx.plan.integration;
  const stack: TreeParent[] = [top];
  while (stack.length > 0 && !o.stopped()) {
    const parent = stack.pop()!;
    for await (const page of paginate(async (t) => {
      if (o.stopped()) return { items: [], next: undefined };
      const r = await firstInLine(() => org.send(new ListAccountsForParentCommand({ ParentId: parent.id, MaxResults: pageSize('organizations'), NextToken: t })));
      return { items: r.Accounts, next: r.NextToken };
    })) {
      const accounts = page.filter((a): a is Account & { Id: string } => !!a.Id && !integ.excludeAccountIds.includes(a.Id));
      for (const a of accounts) ctx.listed?.(a.Id, accountState(a));
      if (accounts.length > 0) yield { parent, accounts };
    }
    for await (const page of paginate(async (t) => {
      if (o.stopped()) return { items: [], next: undefined };
      const r = await firstInLine(() => org.send(new ListOrganizationalUnitsForParentCommand({ ParentId: parent.id, MaxResults: pageSize('organizations'), NextToken: t })));
      return { items: r.OrganizationalUnits, next: r.NextToken };
    })) {
      // An excluded OU hides its whole subtree, the OU itself included.
      const ous = page.filter((ou): ou is OrganizationalUnit & { Id: string; Arn: string } => !!ou.Id && !!ou.Arn && !o.excluded.has(ou.Id));
      for (const ou of ous) stack.push({ id: ou.Id, entityId: ids.organizationalUnit(ou.Arn), path: [...parent.path, ou.Id] });
      if (ous.length > 0) yield { parent, ous };
    }
  }
}

/**
 * A delta with no structural Organizations change and no excluded OU (src/sync/delta.ts):
 * the plan needs only each account's state, which ListAccounts gives 20 a page (the tree
 * walk costs two calls per OU more). The accounts the runner sends (tagged since, or not
 * ACTIVE) get their OU path from ListParents, so each is the entity a full sync would send.
 */
async function* flatAccounts(
  ctx: SourceContext,
  org: OrganizationsClient,
  o: { managementAccountId: string; id: string; arn: string },
  root: { id: string; arn: string; name: string | undefined; policyTypes: unknown[] | undefined },
): AsyncGenerator<Entity> {
  const { plan } = ctx;
  const delta = ctx.organizationDelta!;
  const rootEntityId = ids.root(root.arn);
  if (delta.readsTags(root.id)) {
    const tags = await tagsOf(ctx, org, root.id);
    yield { kind: 'aws.root', id: rootEntityId, name: root.name ?? root.id, arn: root.arn, parentId: ids.organization(o.arn), ...tags.fields, attributes: withUnknowns({ rootId: root.id, policyTypes: root.policyTypes ?? [] }, tags.unknown) };
  }
  // OU ARNs as Organizations builds them (the same form the walk reads from AWS).
  const ouArn = (ouId: string) => `arn:${plan.partition}:organizations::${o.managementAccountId}:ou/${o.id}/${ouId}`;
  for await (const page of paginate(async (t) => {
    const r = await org.send(new ListAccountsCommand({ MaxResults: pageSize('organizations'), NextToken: t }));
    return { items: r.Accounts, next: r.NextToken };
  })) {
    for (const a of page) {
      if (!a.Id || plan.integration.excludeAccountIds.includes(a.Id)) continue;
      const sent = delta.readsTags(a.Id, accountState(a));
      // OU ids from the root down to the account's parent: only for accounts that are sent.
      const path: string[] = [];
      if (sent) {
        for (let child = a.Id; ; ) {
          const parent = (await org.send(new ListParentsCommand({ ChildId: child }))).Parents?.[0];
          if (!parent?.Id || parent.Type !== 'ORGANIZATIONAL_UNIT') break;
          path.unshift(parent.Id);
          child = parent.Id;
        }
      }
      yield await accountEntity(ctx, org, { ...a, Id: a.Id }, { parentId: path.length > 0 ? ids.organizationalUnit(ouArn(path[path.length - 1]!)) : rootEntityId, ouPath: path, orgRef: o });
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
    // Deltas without a structural change (flatAccounts).
    'organizations:ListAccounts',
    'organizations:ListParents',
  ],
  units: (plan: SyncPlan) => [{ source: 'organization', accountId: plan.managementAccountId, region: 'global' }],
  read: (ctx) => (ctx.plan.integration.type === 'aws-account' ? singleAccount(ctx) : organizationEntities(ctx)),
};
