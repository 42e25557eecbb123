// Delta syncs (docs/protocol.md, "sync": `mode: "delta"` with `since`). AWS's only change feed for what
// we read is CloudTrail's management events (LookupEvents). A delta reads the feed and
// decides, per unit, whether anything in it can have changed:
//
// - a unit with changes is read in full and reported `complete`: the control plane may
//   infer deletions inside it, as after a full sync;
// - a unit without changes is not read and reported `skipped` with `reason: "unchanged"`:
//   the control plane keeps what it has for it and infers nothing.
//
// Per source: `iam` — the account's IAM events (global, logged in the partition's home
// region); `sso` and `sso-assignments` — Identity Center and Identity Store events in the
// management account's Identity Center region (assignment events name the account they
// change; permission-set events change every account; Identity Store events that name
// what they change refresh only that: DirectoryRefresh); `organization` — Organizations
// events in the management account (global, home region). `ec2` and `resources` have no
// usable feed (instances register and report without management events; Resource
// Explorer keeps no change history): a delta does not read them and says so per unit
// (`skipped`, reason `noChangeFeed`); a full sync refreshes them.
//
// The organization unit is special: the plan needs the tree whatever the feed says. With
// no Organizations event but tag changes, the tree is walked without its tag reads (one
// organizations:ListTagsForResource per account and OU, the bottleneck of a large
// organization), the unit is reported unchanged, and only what may have changed is sent:
// the resources a TagResource/UntagResource event names, and every account that is not
// ACTIVE (AWS suspends accounts, and finishes closing them, without an Organizations
// event). Any other Organizations write event reads the unit in full.
//
// CloudTrail delivers events up to ~15 minutes late, so the feed is read from 20 minutes
// before `since`. If the feed cannot be read (no permission, throttled away), the unit is
// read in full: a delta can be slower than promised, never wrong.
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { DescribeOrganizationCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import type { Logger } from '../log.js';
import { paginate, pageSize } from '../aws/paginate.js';
import type { IntegrationSession } from '../aws/session.js';
import type { Entity, EntityKind } from '../protocol/messages.js';
import { ids } from './ids.js';
import type { SyncPlan, SyncUnit } from './types.js';

export const DELTA_LOOKBACK_MS = 20 * 60_000;
/** LookupEvents covers the last 90 days; an older `since` cannot be answered from the feed. */
export const FEED_RETENTION_MS = 89 * 24 * 3600_000;
/** What delta syncs call besides the sources' own actions (management and member roles). */
export const DELTA_ACTIONS = ['cloudtrail:LookupEvents'] as const;

// identitystore-scim: what an external identity provider provisions through SCIM (users,
// groups, and memberships through PatchGroup), logged in the Identity Center region.
const IDENTITY_CENTER_SOURCES = new Set(['sso.amazonaws.com', 'identitystore.amazonaws.com', 'identitystore-scim.amazonaws.com', 'sso-directory.amazonaws.com']);
const ASSIGNMENT_EVENTS = new Set(['CreateAccountAssignment', 'DeleteAccountAssignment']);

/** Region where a partition logs its global services' events (IAM, Organizations). */
export function globalEventRegion(partition: string): string {
  return partition === 'aws-us-gov' ? 'us-gov-west-1' : partition === 'aws-cn' ? 'cn-north-1' : 'us-east-1';
}

export interface FeedEvent {
  source: string;
  name: string;
  readOnly: boolean;
  /** When the event happened (LookupEvents' EventTime). */
  time: Date | undefined;
  parameters: Record<string, unknown>;
  /** The whole CloudTrail record (userIdentity, additionalEventData, …); {} when unreadable. */
  record: Record<string, unknown>;
}

export interface FeedOptions {
  /** LookupEvents' one lookup attribute: filtering in AWS costs fewer pages than in here. */
  lookup?: { key: 'EventSource' | 'EventName'; value: string };
  /** Stop after this many pages (newest first): a bound on calls at 2 TPS. */
  maxPages?: number;
  /** Set to true when maxPages ended the read while the feed had more. */
  truncated?: boolean;
}

/**
 * CloudTrail's management events from `start` to now, newest first (LookupEvents). The one
 * reader of the feed: delta verdicts and the last sign-in of Identity Center users
 * (src/sync/sign-ins.ts) both go through it, so both page, filter and pace the same way.
 */
export async function* feed(client: CloudTrailClient, start: Date, opts: FeedOptions = {}): AsyncGenerator<FeedEvent> {
  if (Date.now() - start.getTime() > FEED_RETENTION_MS) throw new Error('since is older than the 90 days CloudTrail keeps');
  const filter = opts.lookup ? { LookupAttributes: [{ AttributeKey: opts.lookup.key, AttributeValue: opts.lookup.value }] } : {};
  // One end for every page: AWS wants a NextToken sent with the parameters of the first
  // call (a later EndTime is a different query, whose token it refuses).
  const end = new Date();
  let pages = 0;
  let more = false;
  for await (const page of paginate(async (t) => {
    const o = await client.send(new LookupEventsCommand({ StartTime: start, EndTime: end, MaxResults: pageSize('cloudTrailLookup'), NextToken: t, ...filter }));
    more = !!o.NextToken;
    return { items: o.Events, next: o.NextToken };
  })) {
    for (const e of page) {
      let record: Record<string, unknown> = {};
      try {
        record = (JSON.parse(e.CloudTrailEvent ?? '{}') ?? {}) as Record<string, unknown>;
      } catch {
        // An unreadable event still counts as a change of its source.
      }
      const parameters = (record['requestParameters'] ?? {}) as Record<string, unknown>;
      yield { source: e.EventSource ?? '', name: e.EventName ?? '', readOnly: e.ReadOnly === 'true', time: e.EventTime, parameters, record };
    }
    if (opts.maxPages !== undefined && ++pages >= opts.maxPages && more) {
      opts.truncated = true;
      return;
    }
  }
}

/** A request parameter as CloudTrail logs it (camelCase), or as some tools log it (PascalCase). */
function param(p: Record<string, unknown>, name: string): string | undefined {
  const v = p[name] ?? p[name.charAt(0).toUpperCase() + name.slice(1)];
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/**
 * The entity an Identity Center delete event removed, when its id can be rebuilt exactly
 * from the event. (IAM deletes cannot: an IAM ARN holds a path the event does not carry.)
 */
function deletedEntity(partition: string, e: FeedEvent): Entity | undefined {
  const p = e.parameters;
  let kind: EntityKind | undefined;
  let id: string | undefined;
  switch (e.name) {
    case 'DeleteUser': {
      const v = param(p, 'userId');
      if (e.source === 'identitystore.amazonaws.com' && v) [kind, id] = ['sso.user', ids.ssoUser(partition, v)];
      break;
    }
    case 'DeleteGroup': {
      const v = param(p, 'groupId');
      if (e.source === 'identitystore.amazonaws.com' && v) [kind, id] = ['sso.group', ids.ssoGroup(partition, v)];
      break;
    }
    case 'DeleteGroupMembership': {
      const v = param(p, 'membershipId');
      if (v) [kind, id] = ['sso.groupMembership', ids.ssoGroupMembership(partition, v)];
      break;
    }
    case 'DeletePermissionSet': {
      const v = param(p, 'permissionSetArn');
      if (v) [kind, id] = ['sso.permissionSet', ids.permissionSet(v)];
      break;
    }
    case 'DeleteAccountAssignment': {
      const [ps, target, type, principal] = [param(p, 'permissionSetArn'), param(p, 'targetId'), param(p, 'principalType'), param(p, 'principalId')];
      if (ps && target && type && principal) [kind, id] = ['sso.accountAssignment', ids.accountAssignment(ps, target, type, principal)];
      break;
    }
  }
  return kind && id ? { kind, id, name: id, deleted: true, attributes: { deletedBy: e.name } } : undefined;
}

/**
 * `skip: 'unchanged'`: the unit's feed shows no change, it is not read. `skip:
 * 'noChangeFeed'`: the unit has no feed, a delta does not read it (the control plane keeps
 * what it has; only a full sync refreshes it). Otherwise the unit is read in full.
 */
export type DeltaVerdict = { skip: 'unchanged' | 'noChangeFeed'; refresh?: DirectoryRefresh } | { skip?: undefined; why: string };

/**
 * The `sso` unit of a delta whose Identity Store events name every change exactly (users
 * and groups created or updated, memberships created in a named group or deleted by id):
 * the unit is reported unchanged, and the runner still reads and sends what can have
 * changed (every user and group, which is a few pages, and the memberships of `groups`),
 * not the permission sets nor the other groups' memberships (one call per group, the bulk
 * of the unit). Deleted memberships are sent as `deleted: true` entities.
 */
export interface DirectoryRefresh {
  groups: ReadonlySet<string>;
  /** Start of the delta's feed window: the re-sent users' sign-ins are read from there only. */
  since: Date;
}

/** Identity Store events whose change the refresh above sends in full. */
const DIRECTORY_UPSERT_EVENTS = new Set(['CreateUser', 'UpdateUser', 'CreateGroup', 'UpdateGroup']);

/** Sources a delta cannot see changes of (see the header). */
const NO_FEED_SOURCES = new Set(['ec2', 'resources']);
/** Organizations events that change tags only, naming the resource in `resourceId`. */
const ORGANIZATION_TAG_EVENTS = new Set(['TagResource', 'UntagResource']);
/**
 * Organizations events that change nothing the organization unit sends: policies and
 * their attachments are not entities (the root's `policyTypes` change only with
 * Enable/DisablePolicyType, which read the unit in full).
 */
const ORGANIZATION_POLICY_EVENTS = new Set(['CreatePolicy', 'UpdatePolicy', 'DeletePolicy', 'AttachPolicy', 'DetachPolicy']);

/**
 * A delta's view of the organization unit when its feed shows no structural change: the
 * tree is walked for the plan, tags are read only where `readsTags` says, and the runner
 * sends only what `sends` accepts.
 */
export class OrganizationDelta {
  constructor(private readonly retagged: ReadonlySet<string>) {}
  /** Whether an OU's tags changed (then the tree is walked: an OU entity needs its path). */
  get touchesOus(): boolean {
    return [...this.retagged].some((id) => id.startsWith('ou-'));
  }
  /** Whether the walk reads the tags of this root, OU or account (`state` for accounts). */
  readsTags(resourceId: string, state?: string): boolean {
    return this.retagged.has(resourceId) || (state !== undefined && state !== 'ACTIVE');
  }
  /** Whether the runner sends this entity of the walk (the rest is unchanged). */
  sends(e: Entity): boolean {
    const resourceId = e.kind === 'aws.account' ? e.accountId : e.kind === 'aws.organizationalUnit' ? e.attributes['ouId'] : e.kind === 'aws.root' ? e.attributes['rootId'] : undefined;
    const state = e.kind === 'aws.account' ? String(e.attributes['state']) : undefined;
    return typeof resourceId === 'string' && this.readsTags(resourceId, state);
  }
}

export class DeltaView {
  private readonly start: Date;
  private readonly warned = new Set<string>();
  private organizationView: Promise<OrganizationDelta | { why: string }> | undefined;
  private identityCenter:
    | Promise<{ directory: boolean; refresh: boolean; groups: Set<string>; allAccounts: boolean; accounts: Set<string>; deleted: Entity[] } | undefined>
    | undefined;

  constructor(
    private readonly session: IntegrationSession,
    private readonly plan: SyncPlan,
    since: Date,
    private readonly log: Logger,
    private readonly warn: (code: string, message: string) => void,
  ) {
    this.start = new Date(since.getTime() - DELTA_LOOKBACK_MS);
  }

  /** Whether `unit` can be skipped because nothing in its feed changed since `since`. */
  async verdict(unit: SyncUnit, opts: { expand?: boolean } = {}): Promise<DeltaVerdict> {
    if (NO_FEED_SOURCES.has(unit.source)) return { skip: 'noChangeFeed' };
    switch (unit.source) {
      case 'iam':
        return this.iam(unit.accountId);
      case 'sso': {
        const ic = await this.identityCenterChanges(unit.region);
        if (!ic) return { why: 'feed unavailable' };
        if (ic.directory) return { why: 'Identity Center events' };
        return ic.refresh ? { skip: 'unchanged', refresh: { groups: ic.groups, since: this.start } } : { skip: 'unchanged' };
      }
      case 'sso-assignments': {
        const ic = await this.identityCenterChanges(unit.region);
        if (!ic) return { why: 'feed unavailable' };
        if (ic.allAccounts || ic.accounts.has(unit.accountId)) return { why: 'assignment events' };
        // Expanded, an account's effective access also changes with the directory (a user
        // added to an assigned group, a membership deleted): src/sync/expand.ts.
        return opts.expand && (ic.directory || ic.refresh) ? { why: 'directory events (expand)' } : { skip: 'unchanged' };
      }
      default:
        return { why: 'no change feed' };
    }
  }

  /**
   * The organization unit in this delta: an OrganizationDelta when the management account's
   * Organizations events since `since` change tags at most, else why it is read in full.
   */
  organization(): Promise<OrganizationDelta | { why: string }> {
    this.organizationView ??= (async () => {
      if (this.plan.integration.type !== 'aws-organization') return { why: 'not an organization' };
      try {
        // Organizations logs most changes (accounts created, moved, joined) in the management
        // account's trail only: a delegated administrator's own trail would look quiet.
        const org = await this.session.managementClient(OrganizationsClient);
        const master = (await org.send(new DescribeOrganizationCommand({}))).Organization?.MasterAccountId;
        if (master !== this.plan.managementAccountId) return { why: 'not the management account: its trail does not log the organization\'s changes' };
        const ct = await this.session.managementClient(CloudTrailClient, globalEventRegion(this.plan.partition));
        const retagged = new Set<string>();
        for await (const e of feed(ct, this.start, { lookup: { key: 'EventSource', value: 'organizations.amazonaws.com' } })) {
          if (e.source !== 'organizations.amazonaws.com' || e.readOnly || ORGANIZATION_POLICY_EVENTS.has(e.name)) continue;
          const resourceId = param(e.parameters, 'resourceId');
          // Anything else (accounts created, moved, closed, removed or joined, OUs created,
          // renamed or deleted, policies…) or a tag event without its resource: read in full.
          if (!ORGANIZATION_TAG_EVENTS.has(e.name) || !resourceId) return { why: `organizations ${e.name}` };
          retagged.add(resourceId);
        }
        // An account's name and primary email change through the Account Management API
        // (PutAccountName, AcceptPrimaryEmailUpdate…), logged under its own event source:
        // the account each event names (the management account's own when none) is sent.
        for await (const e of feed(ct, this.start, { lookup: { key: 'EventSource', value: 'account.amazonaws.com' } })) {
          if (e.source !== 'account.amazonaws.com' || e.readOnly) continue;
          retagged.add(param(e.parameters, 'accountId') ?? this.plan.managementAccountId);
        }
        return new OrganizationDelta(retagged);
      } catch (err) {
        this.unavailable('organizations', 'Organizations events', err);
        return { why: 'feed unavailable' };
      }
    })();
    return this.organizationView;
  }

  /** Identity Center entities deleted since `since` (sent with `deleted: true`). */
  async deletions(ssoRegion: string): Promise<Entity[]> {
    return (await this.identityCenterChanges(ssoRegion))?.deleted ?? [];
  }

  private async iam(accountId: string): Promise<DeltaVerdict> {
    try {
      const ct = await this.session.memberClient(CloudTrailClient, accountId, globalEventRegion(this.plan.partition));
      for await (const e of feed(ct, this.start, { lookup: { key: 'EventSource', value: 'iam.amazonaws.com' } })) {
        if (e.source === 'iam.amazonaws.com' && !e.readOnly) return { why: `iam ${e.name}` };
      }
      return { skip: 'unchanged' };
    } catch (err) {
      this.unavailable('iam', `IAM events of ${accountId}`, err);
      return { why: 'feed unavailable' };
    }
  }

  /** One read of the management account's Identity Center events, shared by its units. */
  private identityCenterChanges(region: string) {
    this.identityCenter ??= (async () => {
      try {
        const ct = await this.session.managementClient(CloudTrailClient, region);
        const out = { directory: false, refresh: false, groups: new Set<string>(), allAccounts: false, accounts: new Set<string>(), deleted: [] as Entity[] };
        for await (const e of feed(ct, this.start)) {
          if (!IDENTITY_CENTER_SOURCES.has(e.source) || e.readOnly) continue;
          const gone = deletedEntity(this.plan.partition, e);
          if (gone && !out.deleted.some((d) => d.id === gone.id)) out.deleted.push(gone);
          if (ASSIGNMENT_EVENTS.has(e.name)) {
            const target = e.parameters['targetId'] ?? e.parameters['TargetId'];
            if (typeof target === 'string') out.accounts.add(target);
            else out.allAccounts = true;
          } else if (e.source === 'identitystore.amazonaws.com' && DIRECTORY_UPSERT_EVENTS.has(e.name)) {
            out.refresh = true;
          } else if (e.source === 'identitystore.amazonaws.com' && e.name === 'CreateGroupMembership' && param(e.parameters, 'groupId')) {
            out.refresh = true;
            out.groups.add(param(e.parameters, 'groupId')!);
          } else if (e.name === 'DeleteGroupMembership' && gone) {
            // Sent exactly as deleted (above); nothing else changed.
            out.refresh = true;
          } else {
            // Users or groups deleted (their memberships go without events of their own),
            // events without the ids we need, or permission sets changed (which can change
            // what every account's assignments mean): read in full.
            out.directory = true;
            if (e.source === 'sso.amazonaws.com') out.allAccounts = true;
          }
        }
        return out;
      } catch (err) {
        this.unavailable('identity-center', 'Identity Center events', err);
        return undefined;
      }
    })();
    return this.identityCenter;
  }

  /** Warns once per feed (the IAM feed of many accounts is one warning, naming the first). */
  private unavailable(feed: 'iam' | 'organizations' | 'identity-center', what: string, err: unknown): void {
    const code = (err as { code?: string } | null)?.code ?? 'AWS_ERROR';
    this.log.debug({ code }, `cannot read ${what}`);
    if (this.warned.has(feed)) return;
    this.warned.add(feed);
    this.warn('DELTA_FEED_UNAVAILABLE', `cannot read ${what} (${code}); read in full instead`);
  }
}
