// Ground truth of a full sync — every entity it must emit, as {kind, id} — and the quota
// floor: the least time a full sync can take under AWS's quotas, from the call model below.
import type { Account, World } from './world.js';
import { arn, ancestors, resourcesOf } from './world.js';
import { entityIds, canonicalRefs, type EntityKind, type EntityRef } from './entity-ids.js';
import { DEFAULT_RATES, Quotas, type Family } from './quotas.js';
import { sha256 } from './util.js';
import { lastSignIns } from './sign-ins.js';

/** The connector's sign-in read (src/sync/sign-ins.ts): LookupEvents of UserAuthentication, newest first, over at most this window and these pages. */
export const SIGN_IN_WINDOW_MS = 89 * 86_400_000 - 3600_000;
export const SIGN_IN_MAX_PAGES = 100;

/** UserAuthentication events a sync reads (logged in the trail, or still to be logged when the simulator starts). */
function signInEventCount(w: World, now = Date.now()): number {
  const since = now - SIGN_IN_WINDOW_MS;
  const owner = w.sso && w.accounts.get(w.sso.ownerAccountId);
  let n = (w.sso?.signIns ?? []).filter((s) => s.agoMs <= SIGN_IN_WINDOW_MS).length;
  for (const e of owner?.trail ?? []) if (e.EventName === 'UserAuthentication' && e.region === w.sso!.region && e.EventTime >= since) n++;
  return n;
}

export { lastSignIns };

export type ResourceType = 'sso' | 'iam' | 'ec2' | 'resources';

/** The parts of an integration and sync params (docs/protocol.md) that decide what a full sync covers. */
export interface IntegrationSettings {
  type?: 'aws-organization' | 'aws-account';
  excludeOrganizationalUnitIds?: string[];
  excludeAccountIds?: string[];
  /** Empty or absent → every enabled region of the world. */
  regions?: string[];
  resourceTypes?: ResourceType[];
  /** Sync params `accountIds`: shard to these accounts. */
  accountIds?: string[];
  /** aws-account: the account (default: the account of roleArn, else the management account). */
  accountId?: string;
  roleArn?: string;
  ssoRegion?: string;
  /** Sync params `expand`: the derived entities too (docs/sync.md, "Effective access (expand)"). */
  expand?: boolean;
  /** The integration's enableAudit: the sync also reads users' sign-ins from CloudTrail. */
  enableAudit?: boolean;
}

export interface Scope {
  type: 'aws-organization' | 'aws-account';
  /** Accounts emitted as aws.account. */
  listed: Account[];
  /** Listed accounts the sync enters (ACTIVE ones): per-account sources run there. */
  entered: Account[];
  excludedOus: Set<string>;
  regions: string[];
  types: Set<ResourceType>;
}

/**
 * Which accounts a sync lists and enters. An excluded OU excludes its whole subtree (the OUs
 * and every account under them, none emitted); excluded accounts are not emitted at all;
 * SUSPENDED / PENDING_CLOSURE / CLOSED accounts are listed but not entered.
 */
export function scope(w: World, s: IntegrationSettings): Scope {
  const type = s.type ?? 'aws-organization';
  const types = new Set<ResourceType>(s.resourceTypes ?? ['sso', 'iam', 'ec2', 'resources']);
  const regions = s.regions && s.regions.length ? s.regions : w.regions;
  const excludedRoots = new Set(s.excludeOrganizationalUnitIds ?? []);
  const excludedOus = new Set<string>();
  for (const ou of w.ous.values()) if (ancestors(w, ou.id).some((id) => excludedRoots.has(id))) excludedOus.add(ou.id);
  let listed: Account[];
  if (type === 'aws-account') {
    const id = s.accountId ?? (s.roleArn ? s.roleArn.split(':')[4] : undefined) ?? w.organization?.managementAccountId ?? '';
    listed = [w.accounts.get(id)].filter((a): a is Account => !!a);
  } else {
    const exAcct = new Set(s.excludeAccountIds ?? []);
    const shard = s.accountIds ? new Set(s.accountIds) : undefined;
    listed = [...w.accounts.values()].filter((a) => a.inOrg && !exAcct.has(a.id) && (!shard || shard.has(a.id)) &&
      !ancestors(w, a.parentId).some((id) => excludedOus.has(id)));
  }
  listed.sort((x, y) => (x.id < y.id ? -1 : 1));
  return { type, listed, entered: listed.filter((a) => a.state === 'ACTIVE'), excludedOus, regions, types };
}

export interface GroundTruth { entities: EntityRef[]; counts: Partial<Record<EntityKind, number>>; hash: string }

export function groundTruth(w: World, s: IntegrationSettings): GroundTruth {
  const sc = scope(w, s);
  const p = w.partition;
  const out: EntityRef[] = [];
  const add = (kind: EntityKind, id: string) => out.push({ kind, id });
  const org = w.organization;
  const orgRef = org ? { managementAccountId: org.managementAccountId, id: org.id } : undefined;

  if (sc.type === 'aws-organization' && org) {
    add('aws.organization', entityIds.organization(arn.org(w)));
    add('aws.root', entityIds.root(arn.root(w)));
    for (const ou of w.ous.values()) if (!sc.excludedOus.has(ou.id)) add('aws.organizationalUnit', entityIds.organizationalUnit(arn.ou(w, ou.id)));
  }
  for (const a of sc.listed) add('aws.account', entityIds.account(p, a.id, a.inOrg ? orgRef : undefined));

  const sso = w.sso;
  const ssoOwner = sc.type === 'aws-organization' ? org?.managementAccountId : sc.listed[0]?.id;
  if (sc.types.has('sso') && sso && sso.ownerAccountId === ssoOwner && (!s.ssoRegion || s.ssoRegion === sso.region)) {
    add('sso.instance', entityIds.ssoInstance(sso.arn));
    for (const ps of sso.permissionSets.keys()) add('sso.permissionSet', entityIds.permissionSet(ps));
    for (const u of sso.users.keys()) add('sso.user', entityIds.ssoUser(p, u));
    for (const g of sso.groups.keys()) add('sso.group', entityIds.ssoGroup(p, g));
    for (const m of sso.memberships.keys()) add('sso.groupMembership', entityIds.ssoGroupMembership(p, m));
    // Assignments are listed per account the sync enters.
    const entered = new Set(sc.entered.map((a) => a.id));
    for (const a of sso.assignments.values()) {
      if (entered.has(a.accountId)) add('sso.accountAssignment', entityIds.accountAssignment(a.permissionSetArn, a.accountId, a.principalType, a.principalId));
    }
    if (s.expand) {
      // Who reaches which account with which permission set: a USER assignment directly,
      // a GROUP assignment through each membership of that group.
      for (const a of sso.assignments.values()) {
        if (!entered.has(a.accountId)) continue;
        if (a.principalType === 'USER') add('sso.effectiveAccess', entityIds.effectiveAccess(a.permissionSetArn, a.accountId, a.principalId));
        else for (const m of sso.memberships.values()) if (m.GroupId === a.principalId) add('sso.effectiveAccess', entityIds.effectiveAccess(a.permissionSetArn, a.accountId, m.UserId, m.GroupId));
      }
      for (const ps of sso.permissionSets.values()) for (const pol of ps.managed) add('sso.permissionSetPolicy', entityIds.permissionSetPolicy(ps.arn, pol));
    }
  }

  for (const a of sc.entered) {
    if (sc.types.has('iam')) {
      for (const u of a.iam.users.values()) {
        const ua = arn.user(w, a.id, u);
        add('iam.user', entityIds.iam(ua));
        for (const k of u.accessKeys ?? []) add('iam.accessKey', entityIds.accessKey(ua, k.id));
      }
      for (const g of a.iam.groups.values()) {
        add('iam.group', entityIds.iam(arn.group(w, a.id, g)));
        if (s.expand) for (const pol of g.attached ?? []) add('iam.groupPolicy', entityIds.groupPolicy(arn.group(w, a.id, g), pol));
      }
      for (const r of a.iam.roles.values()) add('iam.role', entityIds.iam(arn.role(w, a.id, r)));
      // Customer-managed policies only. AWS-managed ones are AWS's catalogue, the same in
      // every account: a sync refers to them by ARN in attachments and boundaries, and does
      // not emit them, since no single (account) unit could own such an entity.
      for (const pol of a.iam.policies.keys()) add('iam.policy', entityIds.iam(pol));
    }
    if (sc.types.has('ec2')) {
      for (const region of sc.regions) {
        for (const i of a.ssm.get(region)?.instances.keys() ?? []) add('ec2.managedInstance', entityIds.managedInstance(p, region, a.id, i));
      }
    }
    if (sc.types.has('resources')) {
      const indexed = new Set(a.re.indexes.map((i) => i.region));
      const regions = new Set(sc.regions);
      for (const r of resourcesOf(w, a.id)) if (regions.has(r.region) && indexed.has(r.region)) add('resource', entityIds.resource(r.arn));
    }
  }

  const lines = canonicalRefs(out);
  const counts: Partial<Record<EntityKind, number>> = {};
  for (const l of lines) { const k = l.split(' ')[0] as EntityKind; counts[k] = (counts[k] ?? 0) + 1; }
  return { entities: lines.map((l) => { const i = l.indexOf(' '); return { kind: l.slice(0, i) as EntityKind, id: l.slice(i + 1) }; }), counts, hash: sha256(lines.join('\n')) };
}

// ---------------------------------------------------------------------------------------
// Call model: the calls a full sync makes, per quota bucket. This is the one place to refine
// it when the sync's strategy changes. Page sizes are AWS's maxima, except where the sync
// asks for less (IAM).
// ---------------------------------------------------------------------------------------

export interface CallLine { family: Family; account: string; region: string; operation: string; calls: number }
export interface CallModel { lines: CallLine[]; criticalPathCalls: number; assumptions: string[] }

export interface FloorOptions {
  /** Fraction of each quota the connector allows itself (default 0.5). */
  quotaShare: number;
  /** k (default 1). */
  timeScale: number;
  rates: Record<Family, number>;
  /** Latency per call before scaling (default 0). */
  latencyMs: number;
  /** Where Resource Explorer is read: each account's own aggregator view (default) or the management account's organization view. */
  resourcesVia: 'member' | 'management-view';
}

const pages = (n: number, size: number) => Math.max(1, Math.ceil(n / size));

export function callModel(w: World, s: IntegrationSettings, resourcesVia: FloorOptions['resourcesVia'] = 'member'): CallModel {
  const sc = scope(w, s);
  const lines: CallLine[] = [];
  const org = w.organization;
  const mgmt = sc.type === 'aws-organization' ? org?.managementAccountId ?? '' : sc.listed[0]?.id ?? '';
  const home = w.regions[0] ?? 'us-east-1';
  const add = (family: Family, account: string, region: string, operation: string, calls: number) => { if (calls > 0) lines.push({ family, account, region, operation, calls }); };
  const baseAccount = w.base.roleArn.split(':')[4]!;
  add('sts', baseAccount, home, 'AssumeRole (management role)', 1);
  let orgChain = 0;
  if (sc.type === 'aws-organization' && org) {
    add('organizations', mgmt, home, 'DescribeOrganization', 1);
    add('organizations', mgmt, home, 'ListRoots', 1);
    const parents = [org.rootId, ...[...w.ous.keys()].filter((id) => !sc.excludedOus.has(id) && !(s.excludeOrganizationalUnitIds ?? []).includes(id))];
    let ouPages = 0; let acctPages = 0; let maxAcctPages = 1;
    for (const pid of parents) {
      ouPages += pages([...w.ous.values()].filter((o) => o.parentId === pid).length, 20);
      const n = pages([...w.accounts.values()].filter((a) => a.inOrg && a.parentId === pid).length, 20);
      acctPages += n; maxAcctPages = Math.max(maxAcctPages, n);
    }
    add('organizations', mgmt, home, 'ListOrganizationalUnitsForParent', ouPages);
    add('organizations', mgmt, home, 'ListAccountsForParent', acctPages);
    add('organizations', mgmt, home, 'ListTagsForResource', sc.listed.length + parents.length - 1);
    const depth = Math.max(0, ...[...w.ous.values()].map((o) => ancestors(w, o.id).length));
    orgChain = 2 + depth + maxAcctPages;
  }
  add('sts', mgmt, home, 'AssumeRole (member role)', sc.entered.length);

  let ssoChain = 0;
  const sso = w.sso;
  if (sc.types.has('sso') && sso && sso.ownerAccountId === mgmt) {
    const r = sso.region;
    const P = sso.permissionSets.size;
    add('identitycenter', mgmt, r, 'ListInstances', 1);
    add('identitycenter', mgmt, r, 'ListPermissionSets', pages(P, 100));
    add('identitycenter', mgmt, r, 'DescribePermissionSet + 4 policy reads + ListTagsForResource per permission set', 6 * P);
    add('identitycenter', mgmt, r, 'identitystore:ListUsers', pages(sso.users.size, 100));
    add('identitycenter', mgmt, r, 'identitystore:ListGroups', pages(sso.groups.size, 100));
    const perGroup = new Map<string, number>();
    for (const m of sso.memberships.values()) perGroup.set(m.GroupId, (perGroup.get(m.GroupId) ?? 0) + 1);
    add('identitycenter', mgmt, r, 'identitystore:ListGroupMemberships', [...sso.groups.keys()].reduce((n, g) => n + pages(perGroup.get(g) ?? 0, 100), 0));
    let provisioned = 0; let assignmentPages = 0; let maxA = 1;
    for (const a of sc.entered) {
      const pss = sso.provisioned.get(a.id) ?? new Set();
      provisioned += pages(pss.size, 100);
      for (const ps of pss) { const n = pages(sso.byTarget.get(`${ps}|${a.id}`)?.size ?? 0, 100); assignmentPages += n; maxA = Math.max(maxA, n); }
    }
    add('identitycenter', mgmt, r, 'ListPermissionSetsProvisionedToAccount', provisioned);
    // The assignments' names: each provisioned permission set described once per sync.
    add('identitycenter', mgmt, r, 'DescribePermissionSet per provisioned permission set', new Set(sc.entered.flatMap((a) => [...(sso.provisioned.get(a.id) ?? [])])).size);
    add('identitycenter', mgmt, r, 'ListAccountAssignments', assignmentPages);
    // Users wait for the sign-in read, which runs beside the permission sets and groups.
    const signInPages = s.enableAudit ? Math.min(SIGN_IN_MAX_PAGES, pages(signInEventCount(w), 50)) : 0;
    add('cloudtrail-lookup', mgmt, r, 'LookupEvents (UserAuthentication: last sign-ins)', signInPages);
    ssoChain = Math.max(1 + pages(P, 100) + 1 + 1 + maxA, 1 + signInPages + pages(sso.users.size, 100));
  }

  let accountChain = 0;
  let orgResources = 0;
  for (const a of sc.entered) {
    let chain = 0;
    if (sc.types.has('iam')) {
      // GAAD without AWS-managed policies, 100 per page (src/sync/sources/iam.ts says why).
      const n = a.iam.users.size + a.iam.groups.size + a.iam.roles.size + a.iam.policies.size;
      const keys = [...a.iam.users.values()].reduce((k, u) => k + (u.accessKeys?.length ?? 0), 0);
      add('iam', a.id, home, 'ListRoles', pages(a.iam.roles.size, 100));
      add('iam', a.id, home, 'GetAccountAuthorizationDetails', pages(n, 100));
      add('iam', a.id, home, 'ListAccessKeys', a.iam.users.size);
      add('iam', a.id, home, 'GetAccessKeyLastUsed', keys);
      // ListUsers (password last used) only where GAAD shows a user.
      const userPages = a.iam.users.size > 0 ? pages(a.iam.users.size, 100) : 0;
      add('iam', a.id, home, 'ListUsers', userPages);
      chain = Math.max(chain, Math.max(pages(a.iam.roles.size, 100), pages(n, 100)) + 2 + userPages);
    }
    if (sc.types.has('ec2')) {
      for (const region of sc.regions) {
        const p = pages(a.ssm.get(region)?.instances.size ?? 0, 50);
        add('ssm', a.id, region, 'DescribeInstanceInformation', p);
        chain = Math.max(chain, p);
      }
    }
    if (sc.types.has('resources')) {
      const agg = a.re.indexes.find((i) => i.type === 'AGGREGATOR')?.region ?? home;
      const n = resourcesOf(w, a.id).filter((r) => sc.regions.includes(r.region)).length;
      if (resourcesVia === 'member') {
        add('resource-explorer', a.id, agg, 'ListIndexes + GetDefaultView', 2);
        add('resource-explorer', a.id, agg, 'ListResources', pages(n, 1000));
        chain = Math.max(chain, 2 + pages(n, 1000));
      } else orgResources += n;
    }
    accountChain = Math.max(accountChain, chain);
  }
  if (sc.types.has('resources') && resourcesVia === 'management-view') {
    const agg = w.accounts.get(mgmt)?.re.indexes.find((i) => i.type === 'AGGREGATOR')?.region ?? home;
    add('resource-explorer', mgmt, agg, 'ListIndexes + GetDefaultView', 2);
    add('resource-explorer', mgmt, agg, 'ListResources (organization view)', pages(orgResources, 1000));
    accountChain = Math.max(accountChain, 2 + pages(orgResources, 1000));
  }
  return {
    lines,
    criticalPathCalls: Math.max(1 + orgChain + 1 + accountChain, 1 + ssoChain),
    assumptions: [
      'Organizations: tree walk with ListOrganizationalUnitsForParent / ListAccountsForParent (20 per page) from the root, skipping excluded OUs; ListTagsForResource per listed account and OU.',
      'One AssumeRole into the member role per entered (ACTIVE, not excluded) account, made by the management-role session.',
      'Identity Center: ListPermissionSets, then 6 reads per permission set (Describe, 4 policy reads, tags); ListUsers, ListGroups, ListGroupMemberships per group (100 per page); with enableAudit, CloudTrail LookupEvents for the UserAuthentication events of the last 89 days (50 per page, at most 100 pages), before the users; per entered account ListPermissionSetsProvisionedToAccount, then ListAccountAssignments per provisioned permission set (and DescribePermissionSet once per provisioned permission set, for names).',
      'IAM per entered account: ListRoles and GetAccountAuthorizationDetails without AWS-managed policies (100 per page each), ListUsers (100 per page) where there are users, ListAccessKeys per user, GetAccessKeyLastUsed per key.',
      'SSM per entered account and region: DescribeInstanceInformation (50 per page).',
      'Resource Explorer: ListIndexes + GetDefaultView + ListResources (1000 per page) in each account\'s aggregator region (or once, in the management account\'s organization view).',
      'Calls spread perfectly across buckets and run with unlimited concurrency; the critical path is the longest chain of dependent calls (tree walk, role hops, pagination).',
    ],
  };
}

export interface Floor {
  floorSeconds: number;
  quotaSeconds: number;
  latencyPathSeconds: number;
  criticalPathCalls: number;
  bottleneck?: { bucket: string; calls: number; ratePerSecond: number; seconds: number };
  buckets: { bucket: string; calls: number; ratePerSecond: number; seconds: number }[];
  totalCalls: number;
  callsByFamily: Partial<Record<Family, number>>;
  options: Omit<FloorOptions, 'rates'>;
  assumptions: string[];
}

/**
 * Floor = max over quota buckets of calls ÷ (rate × share × k), plus the latency of the
 * critical path (criticalPathCalls × latency ÷ k).
 */
export function quotaFloor(w: World, s: IntegrationSettings, o: Partial<FloorOptions> = {}): Floor {
  const opts: FloorOptions = { quotaShare: o.quotaShare ?? 0.5, timeScale: o.timeScale ?? 1, rates: o.rates ?? DEFAULT_RATES, latencyMs: o.latencyMs ?? 0, resourcesVia: o.resourcesVia ?? 'member' };
  const m = callModel(w, s, opts.resourcesVia);
  const perBucket = new Map<string, { family: Family; calls: number }>();
  const byFamily: Partial<Record<Family, number>> = {};
  for (const l of m.lines) {
    const key = Quotas.bucketKey(l.family, l.account, l.region);
    const b = perBucket.get(key) ?? { family: l.family, calls: 0 };
    b.calls += l.calls;
    perBucket.set(key, b);
    byFamily[l.family] = (byFamily[l.family] ?? 0) + l.calls;
  }
  const buckets = [...perBucket].map(([bucket, b]) => {
    const ratePerSecond = opts.rates[b.family] * opts.quotaShare * opts.timeScale;
    return { bucket, calls: b.calls, ratePerSecond, seconds: b.calls / ratePerSecond };
  }).sort((x, y) => y.seconds - x.seconds);
  const quotaSeconds = buckets[0]?.seconds ?? 0;
  const latencyPathSeconds = (m.criticalPathCalls * opts.latencyMs) / opts.timeScale / 1000;
  const { rates: _r, ...shown } = opts;
  return {
    floorSeconds: quotaSeconds + latencyPathSeconds, quotaSeconds, latencyPathSeconds, criticalPathCalls: m.criticalPathCalls,
    ...(buckets[0] ? { bottleneck: buckets[0] } : {}), buckets: buckets.slice(0, 20),
    totalCalls: m.lines.reduce((n, l) => n + l.calls, 0), callsByFamily: byFamily, options: shown, assumptions: m.assumptions,
  };
}
