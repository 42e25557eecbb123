// Resource Explorer 2 (restJson1: POST /ListIndexes, /Search, …), per account. Search stops
// at 1,000 results per query string (Count.Complete=false past it); ListResources pages
// through a view without that cap. As AWS documents: ListResources is authorized by
// `resource-explorer-2:Search`, and returns no NextToken when MaxResults is 1000.
import { SimError } from '../errors.js';
import type { Ctx, ServiceDef } from '../service.js';
import type { Resource, ReView } from '../world.js';
import { arn as arns, resourcesOf } from '../world.js';
import { globMatch, num, paginate, str } from '../util.js';

export const SEARCH_CAP = 1000;
const invalid = (m: string) => new SimError('ValidationException', m, 400);
const notFound = (m: string) => new SimError('ResourceNotFoundException', m, 404);

function view(ctx: Ctx): ReView {
  const a = str(ctx.input.ViewArn);
  if (a) {
    const v = ctx.account.re.views.find((x) => x.arn === a);
    if (!v) throw notFound(`The view ${a} was not found`);
    if (v.region !== ctx.region) throw invalid(`The view ${a} is in region ${v.region}; call that region`);
    return v;
  }
  const d = ctx.account.re.defaultView[ctx.region];
  const v = d ? ctx.account.re.views.find((x) => x.arn === d) : undefined;
  if (!v) throw new SimError('UnauthorizedException', 'No default view is set for this Region. Specify a ViewArn.', 401);
  return v;
}

/** Resources a view sees: its owner's (or, for an organization view, every member's), in the
 *  regions its index covers (an aggregator covers all regions that have an index). A member's
 *  resources reach an organization view only from regions where the member has an index. */
export function viewResources(ctx: Ctx, v: ReView): Resource[] {
  const idx = ctx.account.re.indexes.find((i) => i.region === v.region);
  if (!idx) return [];
  const org = ctx.world.organization;
  const orgWide = !!org && v.scope === arns.org(ctx.world);
  const regionsOf = (acct: string): Set<string> | undefined => {
    const a = ctx.world.accounts.get(acct);
    if (!a || (orgWide && a.state !== 'ACTIVE')) return new Set();
    const indexed = a.re.indexes.map((i) => i.region);
    return new Set(idx.type === 'AGGREGATOR' ? indexed : indexed.filter((r) => r === v.region));
  };
  const cache = new Map<string, Set<string> | undefined>();
  const covered = (r: Resource) => {
    if (!orgWide && r.account !== ctx.account.id) return false;
    if (orgWide && !ctx.world.accounts.get(r.account)?.inOrg) return false;
    if (!cache.has(r.account)) cache.set(r.account, regionsOf(r.account));
    return cache.get(r.account)!.has(r.region);
  };
  const filter = v.filter ? compileQuery(v.filter) : () => true;
  const pool = orgWide ? ctx.world.resources : resourcesOf(ctx.world, ctx.account.id);
  return pool.filter((r) => covered(r) && filter(r));
}

/**
 * The query-string subset: `region:us-east-1`, `resourcetype:ec2:instance`, `service:s3`,
 * `accountid:…`, `tag:key=value`, `tag.key:value`, `-` to negate, `*` wildcards; other words
 * match the ARN. Values of one filter key are OR-ed, different keys AND-ed.
 */
export function compileQuery(q: string): (r: Resource) => boolean {
  const groups = new Map<string, { neg: boolean; test: (r: Resource) => boolean }[]>();
  for (const raw of q.trim().split(/\s+/).filter(Boolean)) {
    const neg = raw.startsWith('-');
    const term = neg ? raw.slice(1) : raw;
    const m = /^(region|resourcetype|service|accountid|tag|tag\.[^:]+|id):(.*)$/i.exec(term);
    let key = 'text';
    let test: (r: Resource) => boolean;
    if (m) {
      key = m[1]!.toLowerCase();
      const val = m[2]!;
      const g = (x: string) => globMatch(val, x);
      if (key === 'region') test = (r) => g(r.region);
      else if (key === 'resourcetype') test = (r) => g(r.type);
      else if (key === 'service') test = (r) => g(r.service);
      else if (key === 'accountid') test = (r) => g(r.account);
      else if (key === 'id') test = (r) => r.arn.endsWith(val);
      else if (key === 'tag') { const [k, v] = val.split('='); test = (r) => !!r.tags?.some((t) => globMatch(k!, t.Key) && (v === undefined || globMatch(v, t.Value))); }
      else { const tk = key.slice(4); test = (r) => !!r.tags?.some((t) => t.Key.toLowerCase() === tk && globMatch(val, t.Value)); }
    } else {
      test = (r) => r.arn.toLowerCase().includes(term.toLowerCase());
    }
    const list = groups.get(key + (neg ? '-' : '')) ?? [];
    list.push({ neg, test });
    groups.set(key + (neg ? '-' : ''), list);
  }
  return (r) => [...groups.values()].every((g) => (g[0]!.neg ? g.every((x) => !x.test(r)) : g.some((x) => x.test(r))));
}

/**
 * What a ListResources sequence pages through: computed for its first page and kept for
 * the pages that follow (while the world holds as many resources), since an organization
 * view scans every resource of the world: 1.6 million at 10,000 accounts, for each of
 * about 1,600 pages.
 */
const listings = new WeakMap<object, Map<string, { n: number; items: Resource[] }>>();
function listed(ctx: Ctx, v: ReView, filter: string): Resource[] {
  let m = listings.get(ctx.world);
  if (!m) listings.set(ctx.world, (m = new Map()));
  const key = `${ctx.account.id}|${v.arn}|${filter}`;
  const kept = m.get(key);
  if (ctx.input.NextToken !== undefined && kept && kept.n === ctx.world.resources.length) return kept.items;
  const items = viewResources(ctx, v).filter(compileQuery(filter));
  m.set(key, { n: ctx.world.resources.length, items });
  return items;
}

function resourceOut(r: Resource): Record<string, unknown> {
  return {
    Arn: r.arn, OwningAccountId: r.account, Region: r.region, ResourceType: r.type, Service: r.service,
    LastReportedAt: new Date(r.reported),
    Properties: r.tags?.length ? [{ Name: 'tags', LastReportedAt: new Date(r.reported), Data: r.tags }] : [],
  };
}

function page<T>(ctx: Ctx, items: T[], scope: string, def = 100) {
  return paginate(items, {
    max: num(ctx.input.MaxResults), token: str(ctx.input.NextToken), cap: 1000, def, scope: `${ctx.account.id}|${ctx.op}|${scope}`,
    invalidToken: () => invalid('The NextToken is not valid'),
    tooLarge: (n) => invalid(`1 validation error detected: Value '${n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000`),
  });
}

export const resourceExplorerService: ServiceDef = {
  name: 'resource-explorer-2',
  protocol: 'rest-json',
  iamPrefix: 'resource-explorer-2',
  eventSource: 'resource-explorer-2.amazonaws.com',
  family: (op) => (op === 'Search' ? 'resource-explorer-search' : 'resource-explorer'),
  actionOf: (op) => `resource-explorer-2:${op === 'ListResources' ? 'Search' : op}`,
  mutating: new Set(),
  resource: (ctx) => str(ctx.input.ViewArn) ?? `arn:${ctx.world.partition}:resource-explorer-2:${ctx.region}:${ctx.account.id}:view/*`,
  ops: {
    ListIndexes: (ctx) => {
      const type = str(ctx.input.Type);
      const regions = (ctx.input.Regions as string[] | undefined) ?? [];
      const idx = ctx.account.re.indexes.filter((i) => (!type || i.type === type) && (!regions.length || regions.includes(i.region)));
      const p = page(ctx, idx, `${type}|${regions.join(',')}`);
      return { Indexes: p.items.map((i) => ({ Region: i.region, Arn: i.arn, Type: i.type })), NextToken: p.next };
    },
    GetIndex: (ctx) => {
      const i = ctx.account.re.indexes.find((x) => x.region === ctx.region);
      if (!i) throw notFound(`No index in ${ctx.region}`);
      return { Arn: i.arn, Type: i.type, State: 'ACTIVE', CreatedAt: new Date(0), LastUpdatedAt: new Date(0) };
    },
    GetDefaultView: (ctx) => {
      const d = ctx.account.re.defaultView[ctx.region];
      return d ? { ViewArn: d } : {};
    },
    ListViews: (ctx) => {
      const p = page(ctx, ctx.account.re.views.filter((v) => v.region === ctx.region).map((v) => v.arn), ctx.region);
      return { Views: p.items, NextToken: p.next };
    },
    GetView: (ctx) => {
      const v = view(ctx);
      return { View: { ViewArn: v.arn, ViewName: v.name, Owner: ctx.account.id, LastUpdatedAt: new Date(v.updated), Scope: v.scope,
        IncludedProperties: [{ Name: 'tags' }], Filters: { FilterString: v.filter ?? '' } }, Tags: {} };
    },
    Search: (ctx) => {
      const v = view(ctx);
      const q = str(ctx.input.QueryString) ?? '';
      if (q.length > 1011) throw invalid('QueryString is too long');
      const all = viewResources(ctx, v).filter(compileQuery(q));
      const reachable = all.slice(0, SEARCH_CAP);
      const p = page(ctx, reachable, `${v.arn}|${q}`, 50);
      return {
        Resources: p.items.map(resourceOut), NextToken: p.next, ViewArn: v.arn,
        Count: { TotalResources: reachable.length, Complete: all.length <= SEARCH_CAP },
      };
    },
    ListResources: (ctx) => {
      const v = view(ctx);
      const f = str((ctx.input.Filters as { FilterString?: string } | undefined)?.FilterString) ?? '';
      const all = listed(ctx, v, f);
      const p = page(ctx, all, `${v.arn}|${f}`);
      // The model's documentation: "does not generate a NextToken if you set MaxResults to 1000".
      const next = num(ctx.input.MaxResults) === 1000 ? undefined : p.next;
      return { Resources: p.items.map(resourceOut), NextToken: next, ViewArn: v.arn };
    },
  },
};
