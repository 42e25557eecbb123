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
// change; permission-set events change every account). `organization`, `ec2` and
// `resources` have no usable feed (instances register and report without management
// events; Resource Explorer keeps no change history) and are always read in full.
//
// CloudTrail delivers events up to ~15 minutes late, so the feed is read from 20 minutes
// before `since`. If the feed cannot be read (no permission, throttled away), the unit is
// read in full: a delta can be slower than promised, never wrong.
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
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

const IDENTITY_CENTER_SOURCES = new Set(['sso.amazonaws.com', 'identitystore.amazonaws.com', 'sso-directory.amazonaws.com']);
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

export type DeltaVerdict = { unchanged: true } | { unchanged: false; why: string };

export class DeltaView {
  private readonly start: Date;
  private identityCenter: Promise<{ directory: boolean; allAccounts: boolean; accounts: Set<string>; deleted: Entity[] } | undefined> | undefined;

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
  async verdict(unit: SyncUnit): Promise<DeltaVerdict> {
    switch (unit.source) {
      case 'iam':
        return this.iam(unit.accountId);
      case 'sso': {
        const ic = await this.identityCenterChanges(unit.region);
        if (!ic) return { unchanged: false, why: 'feed unavailable' };
        return ic.directory ? { unchanged: false, why: 'Identity Center events' } : { unchanged: true };
      }
      case 'sso-assignments': {
        const ic = await this.identityCenterChanges(unit.region);
        if (!ic) return { unchanged: false, why: 'feed unavailable' };
        return ic.allAccounts || ic.accounts.has(unit.accountId) ? { unchanged: false, why: 'assignment events' } : { unchanged: true };
      }
      default:
        return { unchanged: false, why: 'no change feed' };
    }
  }

  /** Identity Center entities deleted since `since` (sent with `deleted: true`). */
  async deletions(ssoRegion: string): Promise<Entity[]> {
    return (await this.identityCenterChanges(ssoRegion))?.deleted ?? [];
  }

  private async iam(accountId: string): Promise<DeltaVerdict> {
    try {
      const ct = await this.session.memberClient(CloudTrailClient, accountId, globalEventRegion(this.plan.partition));
      for await (const e of feed(ct, this.start, { lookup: { key: 'EventSource', value: 'iam.amazonaws.com' } })) {
        if (e.source === 'iam.amazonaws.com' && !e.readOnly) return { unchanged: false, why: `iam ${e.name}` };
      }
      return { unchanged: true };
    } catch (err) {
      this.unavailable(`IAM events of ${accountId}`, err);
      return { unchanged: false, why: 'feed unavailable' };
    }
  }

  /** One read of the management account's Identity Center events, shared by its units. */
  private identityCenterChanges(region: string) {
    this.identityCenter ??= (async () => {
      try {
        const ct = await this.session.managementClient(CloudTrailClient, region);
        const out = { directory: false, allAccounts: false, accounts: new Set<string>(), deleted: [] as Entity[] };
        for await (const e of feed(ct, this.start)) {
          if (!IDENTITY_CENTER_SOURCES.has(e.source) || e.readOnly) continue;
          const gone = deletedEntity(this.plan.partition, e);
          if (gone && !out.deleted.some((d) => d.id === gone.id)) out.deleted.push(gone);
          if (ASSIGNMENT_EVENTS.has(e.name)) {
            const target = e.parameters['targetId'] ?? e.parameters['TargetId'];
            if (typeof target === 'string') out.accounts.add(target);
            else out.allAccounts = true;
          } else {
            // Users, groups, memberships or permission sets changed; a permission set
            // change can change what every account's assignments mean.
            out.directory = true;
            if (e.source === 'sso.amazonaws.com') out.allAccounts = true;
          }
        }
        return out;
      } catch (err) {
        this.unavailable('Identity Center events', err);
        return undefined;
      }
    })();
    return this.identityCenter;
  }

  private unavailable(what: string, err: unknown): void {
    const code = (err as { code?: string } | null)?.code ?? 'AWS_ERROR';
    this.log.debug({ code }, `cannot read ${what}`);
    this.warn('DELTA_FEED_UNAVAILABLE', `cannot read ${what} (${code}); read in full instead`);
  }
}
