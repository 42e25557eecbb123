// Resources from Resource Explorer 2, in one unit `{ accountId: managementAccountId, region:
// 'aggregator' }`. Which AWS setup a customer has is only known by asking, and units() has
// no AWS access, so the unit decides inside read():
//
// 1. aws-organization: the management account's AGGREGATOR index and, in its region, an
//    unfiltered view scoped to the organization (multi-account search). One listing covers
//    every account; resources of accounts the plan does not enter are dropped. In a fresh
//    sync the unit starts as soon as the organization is described and lists beside the
//    walk (listBesideDiscovery), so the listing does not wait for discovery's end.
// 2. No aggregator, or no organization view there: a warning, then each entered account
//    through its member role: its own aggregator's view, else the view of each region's
//    LOCAL index. An account that cannot be read does not stop the others; the unit then
//    fails with that account's error, after emitting everything else, so that a control
//    plane infers no deletions from an incomplete listing.
// 3. aws-account: step 2 for the single account.
//
// ListResources enumerates a view without Search's 1,000-result cap, so nothing needs to be
// split by region or type; regions are filtered here, not in a query string.
import {
  GetDefaultViewCommand,
  GetViewCommand,
  ListIndexesCommand,
  ListResourcesCommand,
  ListViewsCommand,
  ResourceExplorer2Client,
  type Index,
  type Resource,
} from '@aws-sdk/client-resource-explorer-2';
import { collect, paginate, pageSize } from '../../aws/paginate.js';
import { ConnectorError, isAbortError } from '../../errors.js';
import type { Entity } from '../../protocol/messages.js';
import { ids } from '../ids.js';
import { tagFields, tagRecord, type DiscoveryView, type EntitySource, type SourceContext, type SyncPlan, type SyncUnit } from '../types.js';

type ClientIn = (region?: string) => Promise<ResourceExplorer2Client>;

// AWS documents that ListResources returns no NextToken when MaxResults is 1000: a full
// page would silently end the listing, so ask for one less.
const LIST_PAGE = pageSize('resourceExplorer') - 1;

/** Accounts read at once in the fallback: each has its own quota bucket, ~4 calls at 3 TPS. */
const FALLBACK_ACCOUNTS_AT_ONCE = 8;

/**
 * Pulls up to `n` generators at once and yields their items as they arrive. Each holds at
 * most one pending item, so memory stays at `n` pages however many generators there are.
 */
async function* merged<T>(gens: Iterator<AsyncGenerator<T>>, n: number): AsyncGenerator<T> {
  const running = new Map<AsyncGenerator<T>, Promise<{ g: AsyncGenerator<T>; r: IteratorResult<T> }>>();
  const pull = (g: AsyncGenerator<T>) => running.set(g, g.next().then((r) => ({ g, r })));
  const start = () => {
    const next = gens.next();
    if (!next.done) pull(next.value);
  };
  for (let i = 0; i < n; i++) start();
  try {
    while (running.size > 0) {
      const { g, r } = await Promise.race(running.values());
      if (r.done) {
        running.delete(g);
        start();
      } else {
        pull(g);
        yield r.value;
      }
    }
  } finally {
    // The consumer stopped early: close the generators still open.
    for (const g of running.keys()) void g.return(undefined).catch(() => undefined);
  }
}

async function indexesOf(re: ResourceExplorer2Client): Promise<Index[]> {
  return collect(paginate(async (t) => {
    const r = await re.send(new ListIndexesCommand({ NextToken: t }));
    return { items: r.Indexes, next: r.NextToken };
  }));
}

/** An unfiltered view in the client's region whose scope `covers` accepts: the default view first, then the others. */
async function viewIn(re: ResourceExplorer2Client, covers: (scope: string) => boolean): Promise<string | undefined> {
  const tried = new Set<string>();
  const usable = async (viewArn: string) => {
    tried.add(viewArn);
    const v = (await re.send(new GetViewCommand({ ViewArn: viewArn }))).View;
    // A filtered view hides resources without saying so: never enumerate through one.
    return !v?.Filters?.FilterString && v?.Scope !== undefined && covers(v.Scope);
  };
  const dflt = (await re.send(new GetDefaultViewCommand({}))).ViewArn;
  if (dflt && (await usable(dflt))) return dflt;
  for await (const page of paginate(async (t) => {
    const r = await re.send(new ListViewsCommand({ NextToken: t }));
    return { items: r.Views, next: r.NextToken };
  })) {
    for (const v of page) if (!tried.has(v) && (await usable(v))) return v;
  }
  return undefined;
}

function toEntity(ctx: SourceContext, r: Listed, parentId: string | undefined): Entity {
  const tagData = r.Properties?.find((p) => p.Name === 'tags')?.Data;
  const tags = Array.isArray(tagData) ? tagRecord(tagData as Array<{ Key?: string; Value?: string }>) : undefined;
  const resourcePart = r.Arn.split(':').slice(5).join(':');
  return {
    kind: 'resource',
    id: ids.resource(r.Arn),
    name: resourcePart.split(/[/:]/).pop() || r.Arn,
    accountId: r.OwningAccountId,
    ...(r.Region !== undefined && { region: r.Region }),
    ...(parentId !== undefined && { parentId }),
    arn: r.Arn,
    ...tagFields(ctx.plan.integration, tags),
    attributes: { resourceType: r.ResourceType, service: r.Service, lastReportedAt: r.LastReportedAt?.toISOString() },
  };
}

type Listed = Resource & { Arn: string; OwningAccountId: string };
const isListed = (r: Resource): r is Listed => !!r.Arn && !!r.OwningAccountId;

/** Every resource a view shows, page by page, one page held at a time. */
function pagesOf(re: ResourceExplorer2Client, viewArn: string): AsyncGenerator<Resource[]> {
  return paginate(async (t) => {
    const r = await re.send(new ListResourcesCommand({ ViewArn: viewArn, MaxResults: LIST_PAGE, NextToken: t }));
    return { items: r.Resources, next: r.NextToken };
  });
}

/** Every resource a view shows that `keep` accepts. */
async function* list(ctx: SourceContext, re: ResourceExplorer2Client, viewArn: string, keep: (r: Resource) => boolean): AsyncGenerator<Entity> {
  const parents = new Map(ctx.plan.accounts.map((a) => [a.id, a.arn]));
  for await (const page of pagesOf(re, viewArn)) {
    for (const r of page) {
      if (isListed(r) && keep(r)) yield toEntity(ctx, r, parents.get(r.OwningAccountId));
    }
  }
}

/**
 * Resources of accounts discovery does not know yet, held by the organization view's
 * listing while it runs beside the walk. Past this the listing waits for discovery instead
 * of reading on. Checked after each page (999), so at most about 3,000 resources are in
 * memory at once: about 0.7 KB each, some 2 MB. The walk lists the tree ahead of its tag
 * reads (src/sync/sources/organization.ts, listTree), so this holds resources only until
 * the tree is listed (15-20 % of the walk's calls, at twice their time); after that every
 * account but those under an excluded OU is known.
 */
const HELD_MAX = 2000;

/**
 * The organization view's listing while discovery still walks the tree: a resource of an
 * account that is or will be entered is sent at once, one of an account discovery has not
 * listed yet is held
 * (past HELD_MAX the listing waits for discovery), and one of an account that is not
 * entered is dropped, as after discovery. If the walk fails, the listing stops. Memory
 * stays at a few pages whatever the order in which AWS lists resources against the walk's.
 */
async function* listBesideDiscovery(ctx: SourceContext, d: DiscoveryView, re: ResourceExplorer2Client, viewArn: string, inRegion: (region: string | undefined) => boolean): AsyncGenerator<Entity> {
  // By account: a release looks at each account not yet known once, not at each resource.
  const held = new Map<string, Listed[]>();
  let heldCount = 0;
  const entity = (r: Listed) => toEntity(ctx, r, d.entityId(r.OwningAccountId));
  /** Sends the held resources of accounts now known in, drops those of accounts known out. */
  const release = function* (): Generator<Entity> {
    for (const [accountId, list] of held) {
      const known = d.entered(accountId);
      if (known === undefined) continue;
      held.delete(accountId);
      heldCount -= list.length;
      if (known) for (const r of list) yield entity(r);
    }
  };
  for await (const page of pagesOf(re, viewArn)) {
    // The walk failed, so the sync fails: reading on would only spend the quota.
    if (d.failed()) return;
    // What the walk has reached since the last page goes out now, not when the cap is hit.
    yield* release();
    for (const r of page) {
      if (!isListed(r) || !inRegion(r.Region)) continue;
      const known = d.entered(r.OwningAccountId);
      if (known === true) yield entity(r);
      else if (known === undefined) {
        const list = held.get(r.OwningAccountId);
        if (list) list.push(r);
        else held.set(r.OwningAccountId, [r]);
        heldCount++;
      }
    }
    // Once discovery has ended every account is known, so a release empties `held`.
    while (heldCount > HELD_MAX) {
      await d.changed();
      yield* release();
    }
    // A walk that failed while the listing waited: not another page.
    if (d.failed()) return;
  }
  await d.ended;
  if (d.failed()) return;
  yield* release();
}

/** The plan's region filter. Global resources (IAM, for one) carry the region `global`. */
function inRegions(plan: SyncPlan): (region: string | undefined) => boolean {
  const regions = new Set(plan.regions);
  return (region) => region === 'global' || (region !== undefined && regions.has(region));
}

/** One account's resources through its own indexes: the aggregator's view, else each region's. */
async function* accountResources(ctx: SourceContext, accountId: string, clientIn: ClientIn): AsyncGenerator<Entity> {
  const { plan } = ctx;
  const inRegion = inRegions(plan);
  const mine = (r: Resource) => r.OwningAccountId === accountId && inRegion(r.Region);
  // An organization-wide view also covers the account; its other accounts are filtered out.
  const covers = (scope: string) => scope === `arn:${plan.partition}:iam::${accountId}:root` || scope === plan.organization?.arn;
  const indexes = await indexesOf(await clientIn());
  if (indexes.length === 0) {
    ctx.warn('RESOURCE_EXPLORER_NOT_ENABLED', `Resource Explorer has no index in account ${accountId}: none of its resources are reported. Turn Resource Explorer on in that account.`);
    return;
  }
  const agg = indexes.find((i) => i.Type === 'AGGREGATOR')?.Region;
  if (agg) {
    const re = await clientIn(agg);
    const view = await viewIn(re, covers);
    if (view) {
      yield* list(ctx, re, view, mine);
      return;
    }
  }
  for (const idx of indexes) {
    if (!idx.Region || !inRegion(idx.Region)) continue;
    const re = await clientIn(idx.Region);
    const view = await viewIn(re, covers);
    if (!view) {
      ctx.warn('RESOURCE_EXPLORER_NO_VIEW', `account ${accountId} has a Resource Explorer index in ${idx.Region} but no unfiltered view there covering the account: its resources in ${idx.Region} are not reported. Create an aggregator index, or a view in ${idx.Region}.`);
      continue;
    }
    const region = idx.Region;
    yield* list(ctx, re, view, (r) => mine(r) && r.Region === region);
  }
}

async function* organizationResources(ctx: SourceContext): AsyncGenerator<Entity> {
  const { plan } = ctx;
  const mgmt: ClientIn = (region) => ctx.session.managementClient(ResourceExplorer2Client, region);
  const agg = (await indexesOf(await mgmt())).find((i) => i.Type === 'AGGREGATOR')?.Region;
  const orgArn = plan.organization?.arn;
  const view = agg && orgArn ? await viewIn(await mgmt(agg), (scope) => scope === orgArn) : undefined;
  if (agg && view) {
    const inRegion = inRegions(plan);
    if (ctx.discovery) {
      yield* listBesideDiscovery(ctx, ctx.discovery, await mgmt(agg), view, inRegion);
      return;
    }
    const entered = new Set(plan.accounts.map((a) => a.id));
    yield* list(ctx, await mgmt(agg), view, (r) => entered.has(r.OwningAccountId ?? '') && inRegion(r.Region));
    return;
  }
  // Each account through its own indexes needs the whole list of accounts.
  if (ctx.discovery) {
    await ctx.discovery.ended;
    if (ctx.discovery.failed()) return;
  }
  ctx.warn(
    agg ? 'RESOURCE_EXPLORER_NO_ORGANIZATION_VIEW' : 'RESOURCE_EXPLORER_NO_AGGREGATOR',
    agg
      ? `the management account's Resource Explorer aggregator (${agg}) has no unfiltered organization-wide view: reading each account's own indexes instead (slower). Turn on multi-account search and create an organization view in ${agg}.`
      : `the management account has no Resource Explorer aggregator index: reading each account's own indexes instead (slower). Create an aggregator index and an organization-wide view in the management account.`,
  );
  const failures: Array<{ accountId: string; err: unknown }> = [];
  const oneAccount = async function* (accountId: string): AsyncGenerator<Entity> {
    try {
      yield* accountResources(ctx, accountId, (region) => ctx.session.memberClient(ResourceExplorer2Client, accountId, region));
    } catch (err) {
      if (isAbortError(err) || ctx.signal.aborted) throw err;
      ctx.log.warn({ accountId, err }, 'Resource Explorer: account could not be read');
      failures.push({ accountId, err });
    }
  };
  yield* merged(plan.accounts.map((a) => oneAccount(a.id)).values(), FALLBACK_ACCOUNTS_AT_ONCE);
  if (failures.length > 0) {
    failures.sort((x, y) => x.accountId.localeCompare(y.accountId));
    const first = failures[0]!.err;
    const code = first instanceof ConnectorError ? first.code : 'AWS_ERROR';
    const detail = first instanceof Error ? first.message : String(first);
    throw new ConnectorError(code, `Resource Explorer could not be read in ${failures.length} account(s) (${failures.map((f) => f.accountId).join(', ')}); the others were reported. First error: ${detail}`, { cause: first });
  }
}

export const resourcesSource: EntitySource = {
  name: 'resources',
  scope: 'all-accounts',
  resourceType: 'resources',
  entityKinds: ['resource'],
  // ListResources is authorized by resource-explorer-2:Search (AWS's API reference).
  requiredActions: [
    'resource-explorer-2:ListIndexes',
    'resource-explorer-2:GetDefaultView',
    'resource-explorer-2:ListViews',
    'resource-explorer-2:GetView',
    'resource-explorer-2:Search',
  ],
  units: (plan: SyncPlan): SyncUnit[] => [{ source: 'resources', accountId: plan.managementAccountId, region: 'aggregator' }],
  read: (ctx) => (ctx.plan.integration.type === 'aws-organization'
    ? organizationResources(ctx)
    : accountResources(ctx, ctx.plan.managementAccountId, (region) => ctx.session.managementClient(ResourceExplorer2Client, region))),
};
