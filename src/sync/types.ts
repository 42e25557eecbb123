// The contract between the sync runner and its entity sources. A source is one file in
// src/sync/sources/ and one line in src/sync/registry.ts: it says which units of work it
// has (account × region), which AWS actions it needs, and streams entities for a unit.
import type { IntegrationSession } from '../aws/session.js';
import type { Logger } from '../log.js';
import type { Entity, EntityKind, Integration } from '../protocol/messages.js';

export type SourceName = 'organization' | 'sso' | 'sso-assignments' | 'iam' | 'ec2' | 'resources';

/**
 * An account the sync enters (ACTIVE, not excluded, within the job's accountIds). Kept for
 * every account until the sync ends, so it holds only what units read (its OU path is in
 * the aws.account entity, sent once).
 */
export interface AccountInfo {
  id: string;
  /** The aws.account entity id (entityIds.account). */
  arn: string;
  name: string;
}

export interface SyncPlan {
  integration: Integration;
  partition: string;
  /** The account of the management identity (the single account for aws-account). */
  managementAccountId: string;
  organization?: { id: string; arn: string; managementAccountId: string };
  /** Accounts to enter, sorted by id. */
  accounts: AccountInfo[];
  /** Regions for regional sources: the integration's, or every enabled region. */
  regions: string[];
}

/** One piece of work; its outcome is one coverage entry. `region` is 'global' for global services. */
export interface SyncUnit {
  source: SourceName;
  accountId: string;
  region: string;
}

export function unitKey(u: SyncUnit): string {
  return `${u.source}:${u.accountId}:${u.region}`;
}

export interface SourceContext {
  session: IntegrationSession;
  plan: SyncPlan;
  unit: SyncUnit;
  log: Logger;
  /** Aborts on job.cancel; AWS calls made through the session already honour it. */
  signal: AbortSignal;
  /** A partial problem inside the unit (kept in the result's warnings); the unit still completes. */
  warn(code: string, message: string): void;
  /**
   * An optional read gave up (src/sync/optional.ts): the attributes it feeds are unknown in
   * this unit. The runner gathers these into the result's `coverageGaps`.
   */
  gap?(action: string, reason: 'denied' | 'unsupported' | 'unavailable', message: string): void;
  /** Identity Store user attributes the customer's policy lets leave the account (undefined = all). */
  userAttributes?: readonly string[];
  /**
   * Organization unit of a delta whose Organizations feed shows tag changes at most
   * (src/sync/delta.ts): tags are read only where this says; the rest of the tree is walked
   * for the plan and not sent.
   */
  organizationDelta?: { readsTags(resourceId: string, state?: string): boolean; readonly touchesOus: boolean };
  /**
   * `sso` unit of a delta whose Identity Store events name every change (src/sync/delta.ts,
   * DirectoryRefresh): users and groups are read, memberships only of these groups, and
   * permission sets not at all; users' sign-ins only since `since`.
   */
  directoryRefresh?: { groups: ReadonlySet<string>; since: Date };
  /**
   * Organization unit: each account as the tree walk lists it with its state, before its
   * tags are read and its entity is sent (in the order listed). The runner tells
   * `discovery` views from it which accounts will be entered.
   */
  listed?(accountId: string, state: string): void;
  /**
   * Present while discovery still walks the organization (an `all-accounts` unit starts
   * beside it): `plan.accounts` is then incomplete, and this says which accounts are in.
   */
  discovery?: DiscoveryView;
}

/** The accounts discovery has entered or listed so far (SourceContext.discovery). */
export interface DiscoveryView {
  /**
   * true: entered, or listed by the walk and to be entered (its entity follows); false:
   * never will be (excluded, not active, or discovery ended without it); undefined: not
   * known yet.
   */
  entered(accountId: string): boolean | undefined;
  /** The aws.account entity id of an account `entered` says true of. */
  entityId(accountId: string): string | undefined;
  /** Resolves when discovery lists or enters another account, or ends. */
  changed(): Promise<void>;
  /** Resolves when discovery has ended (then `entered` is never undefined). */
  readonly ended: Promise<void>;
  /** Discovery failed: the sync fails, so a unit beside it should stop, not read on. */
  failed(): boolean;
}

/**
 * When a source's units can start:
 * - `discovery`: the organization source, which the plan is made from;
 * - `global`: units independent of the accounts (start at once, beside discovery);
 * - `account`: one account's units (start as soon as that account is discovered);
 * - `all-accounts`: units over every account at once. In a fresh organization sync they
 *   start once the organization is described, beside discovery, and learn which accounts
 *   are in through `SourceContext.discovery`; otherwise after discovery.
 */
export type SourceScope = 'discovery' | 'global' | 'account' | 'all-accounts';

export interface EntitySource {
  name: SourceName;
  scope: SourceScope;
  /** The integration resourceTypes value that switches the source on; absent = always on. */
  resourceType?: 'sso' | 'iam' | 'ec2' | 'resources';
  entityKinds: readonly EntityKind[];
  /** Every AWS action read() may call (least-privilege test, docs/permissions.md, doctor). */
  requiredActions: readonly string[];
  units(plan: SyncPlan): SyncUnit[];
  read(ctx: SourceContext): AsyncIterable<Entity>;
}

/**
 * An entity's `tags` and `owner` fields, ready to spread into it: the owner is the value
 * of the integration's `resourceOwnerTagKey` tag, when it has one.
 */
export function tagFields(integration: Integration, tags: Record<string, string> | undefined): { tags?: Record<string, string>; owner?: string } {
  if (!tags) return {};
  const owner = integration.resourceOwnerTagKey !== undefined ? tags[integration.resourceOwnerTagKey] : undefined;
  return owner !== undefined ? { tags, owner } : { tags };
}

/** AWS tags ([{Key, Value}]) as a plain record. */
export function tagRecord(tags: ReadonlyArray<{ Key?: string | undefined; Value?: string | undefined }> | undefined): Record<string, string> | undefined {
  if (!tags || tags.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const t of tags) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

/** A sync's progress as separate figures, each of which only grows. */
export interface ProgressFigures {
  /** Units planned so far; grows while discovery walks the organization. */
  unitsFound: number;
  unitsDone: number;
  /** True until every unit is planned: until then a percentage would go backwards. */
  discovering: boolean;
  /** Entities read from AWS, counted one by one (batches of 500 are sent later). */
  entitiesRead: number;
}
