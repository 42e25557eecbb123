// The sync runner: discover the organization, plan units (account × source × region),
// run them concurrently, stream entities in windowed batches with resume cursors, and
// report counts, coverage and errors. One failing unit never fails the sync.
import PQueue from 'p-queue';
import * as z from 'zod';
import { ConnectorError, isAbortError } from '../errors.js';
import type { AwsRuntime } from '../aws/runtime.js';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Entity, EntityKind, Integration } from '../protocol/messages.js';
import { Batcher } from './batcher.js';
import { decodeCursor, encodeCursor, paramsHash, unitsFingerprint } from './cursor.js';
import { accountState } from './sources/organization.js';
import { isRegionDisabled } from './sources/ec2.js';
import { DeltaView, OrganizationDelta, type DeltaVerdict } from './delta.js';
import { Expansion } from './expand.js';
import { ids } from './ids.js';
import { PositionSet, UnitTable } from './unit-table.js';
import { unitKey, type AccountInfo, type DiscoveryView, type EntitySource, type ProgressFigures, type SourceContext, type SyncPlan, type SyncUnit } from './types.js';

export const syncParams = z.object({
  mode: z.enum(['full', 'delta']).default('full'),
  since: z.iso.datetime({ offset: true }).optional(),
  accountIds: z.array(z.string().regex(/^\d{12}$/, 'must be 12-digit account ids')).max(10_000).optional(),
  resumeFrom: z.string().max(16 * 1024).optional(),
  /**
   * Also emit derived entities: effective access and policy attachments (src/sync/expand.ts).
   * Optional, absent = false: a control plane that never sends it sees no change.
   */
  expand: z.boolean().optional(),
});
export type SyncParams = z.infer<typeof syncParams>;

export interface CoverageEntry {
  accountId: string;
  source: string;
  region: string;
  status: 'complete' | 'failed' | 'skipped';
  /**
   * Why a unit was skipped (an optional field protocol v1 allows): in a delta `unchanged`
   * (its feed shows no change) or `noChangeFeed` (no feed: only a full sync refreshes it);
   * `regionDisabled`.
   */
  reason?: 'unchanged' | 'noChangeFeed' | 'regionDisabled';
}
/** Attributes left unknown because an optional read was denied, unsupported or failing (src/sync/optional.ts). */
export interface CoverageGap {
  action: string;
  reason: 'denied' | 'unsupported' | 'unavailable';
  /** Accounts whose units had the gap, sorted. */
  accounts: string[];
}
export interface SyncError {
  accountId: string;
  source: string;
  region: string;
  code: string;
  message: string;
}

/** The result output must fit one 1 MiB frame; coverage beyond this is summarized. */
const OUTPUT_BUDGET_BYTES = 900 * 1024;

/** Checks resumeFrom before the job is accepted (docs/protocol.md, "sync": a mismatched cursor is `invalid`). */
export function checkResumeCursor(integrationId: string, params: SyncParams): string | undefined {
  if (params.resumeFrom === undefined) return undefined;
  try {
    const c = decodeCursor(params.resumeFrom);
    if (c.integrationId !== integrationId) return 'resumeFrom belongs to another integration';
    if (c.paramsHash !== paramsHash(params as Record<string, unknown>)) return 'resumeFrom was made for other sync params';
  } catch (err) {
    return (err as Error).message;
  }
  return undefined;
}

/**
 * How many units run at once. Per-account buckets are independent, so parallelism across
 * accounts is bounded by memory (each unit holds at most one page) rather than by AWS;
 * the shared buckets (Identity Center, Organizations) are paced by the rate limiter
 * whatever this number is, and the limiter is what makes a sync follow AWS's quotas.
 */
const UNIT_CONCURRENCY = 32;

/**
 * Units planned and not yet started, beyond which discovery waits (until half of them have
 * started). A queued unit holds about 1 KB (its task, promises and closures), so this bounds
 * the backlog at about 8 MB; without a bound, a connector short of CPU, reading units slower
 * than it finds accounts, would queue tens of megabytes by the end of a 10,000-account walk.
 * It is set high because the walk (the Organizations bucket) usually sets the sync's pace,
 * and every second it waits lengthens the sync: with 2,048 the 10,000-account walk waited
 * 32 s for units that had slowed in the middle of the run, with 8,192 it never waited
 * (docs/performance.md, "10,000 accounts").
 */
const DISCOVERY_QUEUED_UNITS = 8192;

/**
 * A resumed sync knows all its units before it starts any: it hands them to the queue at
 * most this many ahead of the running ones. Nothing waits on this but that hand-over, so it
 * only bounds memory.
 */
const RESUME_QUEUED_UNITS = 2048;

/** A sync encodes a fresh cursor at most this many times (plus the final one): see cursor() below. */
const CURSOR_STEPS = 256;

export interface SyncDeps {
  aws: AwsRuntime;
  sources: readonly EntitySource[];
  /** Enabled regions when the integration names none. */
  regions: (ctx: SyncJob, plan: SyncPlan) => Promise<string[]>;
}

/**
 * The job a sync runs for: the part of src/jobs/types.ts JobContext it uses, declared here
 * because this layer imports nothing above it.
 */
export interface SyncJob {
  integration: Integration;
  params: SyncParams;
  signal: AbortSignal;
  log: Logger;
  config: Pick<Config, 'policy'>;
  progress(phase: string, done: number, total?: number, figures?: ProgressFigures): void;
  /**
   * Sends one sync.batch; resolves once the job is back under its window of unacked batches.
   * `entitiesJson`: the entities' JSON, comma-separated, when the caller has it already.
   */
  emitBatch(entities: Entity[], cursor?: string, entitiesJson?: string): Promise<void>;
}

export async function runSync(ctx: SyncJob, deps: SyncDeps): Promise<{ output: unknown; stats: Record<string, unknown> }> {
  const { integration, params, log, signal } = ctx;
  const session = deps.aws.session(integration);
  const mgmt = await session.managementIdentity();
  const plan: SyncPlan = { integration, partition: mgmt.partition, managementAccountId: mgmt.accountId, accounts: [], regions: [] };
  const enabled = (s: EntitySource) => s.resourceType === undefined || integration.resourceTypes.includes(s.resourceType);
  const sources = deps.sources.filter(enabled);
  const organization = sources.find((s) => s.name === 'organization');
  if (!organization) throw new Error('the organization source is not registered');

  const counts: Partial<Record<EntityKind, number>> = {};
  // Coverage as it happens: one number per unit (its position × 8 + a code below), the
  // entries made only for the output. A large organization has tens of thousands of units.
  const coverageLog: number[] = [];
  const cover = (pos: number, code: number) => coverageLog.push(pos * 8 + code);
  // With expand: one entry per entered account for its effective access (not a planned unit).
  const derivedCoverage: CoverageEntry[] = [];
  const errors: SyncError[] = [];
  const warnings: Array<{ code: string; message: string; accountId?: string }> = [];
  const gaps = new Map<string, { action: string; reason: CoverageGap['reason']; accounts: Set<string> }>();
  // Positions of the units completed, one bit each (src/sync/unit-table.ts).
  const completed = new PositionSet();
  const phash = paramsHash(params as Record<string, unknown>);
  let fingerprint = '';
  let lastCursor: string | undefined;
  // Encoding a cursor costs O(units), and a large organization has tens of thousands of
  // units and of batches: a batch carries the last cursor again until another
  // 1/CURSOR_STEPS of the units have completed (one unit, in a small organization). The older cursor names fewer
  // units than are complete, which is always safe (they are read again on resume).
  let cursorStep = 1;
  let cursorCompleted = -Infinity;
  const cursor = (final: boolean) => {
    if (!fingerprint) return undefined;
    if (final || completed.size - cursorCompleted >= cursorStep) {
      lastCursor = encodeCursor(integration.id, phash, fingerprint, completed);
      cursorCompleted = completed.size;
    }
    return lastCursor;
  };
  const batcher = new Batcher((entities, c, json) => ctx.emitBatch(entities, c, json), cursor);
  const userAttributes = ctx.config.policy?.sync.userAttributes;
  const expansion = params.expand ? new Expansion(plan) : undefined;
  // No directory to wait for (`sso` not synced: then no assignments either): never wait for it.
  if (expansion && !sources.some((s) => s.name === 'sso')) expansion.directoryDone({ status: 'failed', code: 'INTERNAL_ERROR' });

  const contextFor = (unit: SyncUnit): SourceContext => ({
    session,
    plan,
    unit,
    log: log.child({ accountId: unit.accountId, source: unit.source, region: unit.region }),
    signal,
    warn: (code, message) => {
      if (warnings.length < 200) warnings.push({ code, message: message.slice(0, 500), accountId: unit.accountId });
      log.warn({ code, accountId: unit.accountId, source: unit.source }, message);
    },
    gap: (action, reason, message) => {
      const key = `${action} ${reason}`;
      let g = gaps.get(key);
      if (!g) gaps.set(key, (g = { action, reason, accounts: new Set() }));
      g.accounts.add(unit.accountId);
      log.warn(
        { event: 'sync.attribute_unknown', accountId: unit.accountId, source: unit.source, region: unit.region, action, reason },
        `sync unit ${unitKey(unit)}: ${action} ${reason}, its attributes are sent as unknown: ${message.slice(0, 300)}`,
      );
    },
    ...(userAttributes !== undefined && { userAttributes }),
  });

  let deletedCount = 0;
  let derivedCount = 0;
  // Progress: units found and units done are separate figures (found grows during
  // discovery), and entities count as they are read. Set before units exist; see below.
  let report: () => void = () => {};
  let read = 0;
  const record = (e: Entity) => {
    if (e.deleted) deletedCount++;
    else counts[e.kind] = (counts[e.kind] ?? 0) + 1;
    if (e.derived) derivedCount++;
    read++;
    report();
    return batcher.add(e);
  };

  // One cause (an account whose member role cannot be assumed) fails every unit of that
  // account: warn once per account and cause, the other units at debug.
  const warned = new Set<string>();
  const fail = (pos: number, unit: SyncUnit, err: unknown, status: 'failed' | 'skipped'): { status: 'failed' | 'skipped'; code: string } => {
    const code = err instanceof ConnectorError ? err.code : 'AWS_ERROR';
    const message = err instanceof Error ? err.message.slice(0, 500) : String(err);
    cover(pos, status === 'failed' ? FAILED : SKIPPED_REGION_DISABLED);
    if (status === 'failed') errors.push({ accountId: unit.accountId, source: unit.source, region: unit.region, code, message });
    const first = !warned.has(`${unit.accountId}|${code}|${message}`);
    warned.add(`${unit.accountId}|${code}|${message}`);
    log[first ? 'warn' : 'debug']({ event: 'sync.unit_failed', accountId: unit.accountId, source: unit.source, region: unit.region, code }, `sync unit ${unitKey(unit)} ${status}: ${message}${first ? '' : ' (as above)'}`);
    return { status, code };
  };

  const delta =
    params.mode === 'delta' && params.since !== undefined
      ? new DeltaView(session, plan, new Date(params.since), log, (code, message) => warnings.push({ code, message }))
      : undefined;

  // What `all-accounts` units started beside discovery see of it (SourceContext.discovery):
  // accounts entered, and those the walk has listed ahead of its tag reads and will enter
  // (listedIn, until entered) or will not (listedOut: wanted but not active). Ids only:
  // the whole tree may be listed long before its accounts are entered.
  const enteredById = new Map<string, AccountInfo>();
  const listedIn = new Set<string>();
  const listedOut = new Set<string>();
  // Sets: both lists may name thousands of accounts, and the view is asked per resource.
  const excludedIds = new Set(integration.excludeAccountIds);
  const wantedIds = params.accountIds && new Set(params.accountIds);
  let discoveryEnded = false;
  let wake: Array<() => void> = [];
  let endDiscovery: () => void = () => {};
  const discoveryView: DiscoveryView = {
    entered: (id) =>
      enteredById.has(id) || listedIn.has(id)
        ? true
        : discoveryEnded || excludedIds.has(id) || listedOut.has(id) || (wantedIds !== undefined && !wantedIds.has(id)) ? false : undefined,
    // A listed account's entity id is the one its entity will have (organization.ts, accountEntity).
    entityId: (id) => enteredById.get(id)?.arn ?? (listedIn.has(id) && plan.organization ? ids.account(plan.partition, id, plan.organization) : undefined),
    changed: () => (discoveryEnded ? Promise.resolve() : new Promise<void>((r) => wake.push(r))),
    ended: new Promise<void>((r) => (endDiscovery = r)),
    // Only a failed walk sets `stopped` (below).
    failed: () => stopped,
  };
  const discoveryMoved = () => {
    const w = wake;
    wake = [];
    for (const f of w) f();
  };
  const discoveryOver = () => {
    discoveryEnded = true;
    listedIn.clear();
    listedOut.clear();
    discoveryMoved();
    endDiscovery();
  };

  // Regions first: account units start while discovery is still walking the tree.
  plan.regions = integration.regions.length > 0 ? [...integration.regions] : await deps.regions(ctx, plan);

  // Units get positions in the order they are planned; cursors name those positions. The
  // order is deterministic for a given organization (discovery walks it in AWS's order).
  // A few bytes a unit, not an object (src/sync/unit-table.ts): they are kept to the end.
  const units = new UnitTable();
  const queue = new PQueue({ concurrency: UNIT_CONCURRENCY });
  // Units started and not yet settled (settled ones leave, so this stays small), and the
  // first error one threw: runOne throws only when the sync is cancelled.
  const running = new Set<Promise<void>>();
  let thrown: { reason: unknown } | undefined;
  const start = (pos: number) => {
    const p = queue.add(() => runOne(pos));
    running.add(p);
    p.then(
      () => running.delete(p),
      (reason: unknown) => {
        thrown ??= { reason };
        running.delete(p);
      },
    );
  };
  let done = 0;
  let discovering = true;
  report = () => ctx.progress('units', done, units.length, { unitsFound: units.length, unitsDone: done, discovering, entitiesRead: read });
  // Units a resumed sync's cursor names as completed (positions, one bit each).
  const skip = new PositionSet();
  let resumedUnits = 0;
  // Set when discovery fails: units already started stop at their next entity.
  let stopped = false;
  const runOne = async (pos: number): Promise<void> => {
    const unit = units.unit(pos);
    const source = units.source(pos);
    // With expand, the directory is read in full even when a cursor or a delta would skip it.
    const mustRead = expansion?.mustRead(unit) ?? false;
    let ended: Parameters<Expansion['coverage']>[1] | undefined;
    try {
      if (signal.aborted) return;
      let verdict: DeltaVerdict | undefined;
      if (skip.has(pos) && !mustRead) {
        completed.add(pos);
        cover(pos, COMPLETE);
        ended = { status: 'complete' };
      } else if (delta && !mustRead && (verdict = await delta.verdict(unit, { expand: expansion !== undefined })).skip === 'unchanged' && verdict.refresh) {
        // Unchanged but for what its feed names exactly (src/sync/delta.ts, DirectoryRefresh):
        // that is read and sent; the unit stays skipped, so the control plane keeps the rest.
        try {
          for await (const e of source.read({ ...contextFor(unit), directoryRefresh: verdict.refresh })) {
            if (stopped) return;
            await record(e);
          }
          cover(pos, SKIPPED_UNCHANGED);
          ended = { status: 'skipped', reason: 'unchanged' };
        } catch (err) {
          if (signal.aborted || isAbortError(err)) throw err;
          ended = fail(pos, unit, err, 'failed');
        }
      } else if (verdict?.skip) {
        // Nothing in this unit's change feed since `since`, or no feed at all: not read; the
        // control plane keeps what it has for it (skipped, so it infers no deletions there).
        // It is deliberately not marked completed: a resumed sync must ask the feed again,
        // never report it complete.
        cover(pos, verdict.skip === 'unchanged' ? SKIPPED_UNCHANGED : SKIPPED_NO_CHANGE_FEED);
        ended = { status: 'skipped', reason: verdict.skip };
      } else {
        try {
          const c = contextFor(unit);
          for await (const e of source.read(source.scope === 'all-accounts' && !discoveryEnded ? { ...c, discovery: discoveryView } : c)) {
            if (stopped) return;
            await record(e);
            if (expansion) for (const d of expansion.derive(e)) await record(d);
          }
          // With expand, assignments read without the whole directory derived only part of
          // their access: a resumed sync must read them again, not skip them as done.
          if (!(expansion && unit.source === 'sso-assignments' && !expansion.directoryComplete)) completed.add(pos);
          cover(pos, COMPLETE);
          ended = { status: 'complete' };
        } catch (err) {
          if (signal.aborted || isAbortError(err)) throw err;
          ended = fail(pos, unit, err, isRegionDisabled(err) ? 'skipped' : 'failed');
        }
      }
      done++;
      report();
    } finally {
      if (expansion && unit.source === 'sso') expansion.directoryDone(ended?.status === 'complete' ? { status: 'complete' } : { status: 'failed', code: ended?.code ?? 'JOB_CANCELLED' });
      if (expansion && unit.source === 'sso-assignments' && ended) {
        const { entry, error } = expansion.coverage(unit, ended);
        derivedCoverage.push(entry);
        if (error) errors.push({ accountId: entry.accountId, source: entry.source, region: entry.region, ...error });
      }
    }
  };
  // With expand, an account's assignments wait (outside the queue) for the whole directory.
  const startUnit = (pos: number): void => {
    const gate = expansion?.gate(units.unit(pos));
    if (!gate) return start(pos);
    const p = gate.then(() => (stopped || signal.aborted ? undefined : start(pos)));
    running.add(p);
    void p.then(() => running.delete(p));
  };

  const plan1 = (source: EntitySource, p: SyncPlan, start: boolean) => {
    for (const unit of source.units(p)) {
      const pos = units.push(unit, source);
      if (start) startUnit(pos);
    }
  };
  // A resumed sync must know whether its cursor still matches the plan before it skips
  // anything, so it plans everything first; a fresh sync starts units as it discovers.
  const streaming = params.resumeFrom === undefined;
  const onePlan = (a: AccountInfo): SyncPlan => ({ ...plan, accounts: [a] });

  // 1. Discovery: the organization unit (position 0) yields the accounts to enter.
  const orgUnit = organization.units(plan)[0]!;
  units.push(orgUnit, organization);
  for (const s of sources) if (s.scope === 'global') plan1(s, plan, streaming);
  const entered: AccountInfo[] = [];
  // `all-accounts` units (one listing over every account: Resource Explorer's organization
  // view) are planned once the organization is described, so their positions are the same
  // whether a sync streams or resumes, and a fresh sync starts them then: their listing
  // runs beside the walk instead of after it, which at 10,000 accounts was minutes of tail.
  let allAccountsPlanned = false;
  const planAllAccounts = () => {
    if (allAccountsPlanned) return;
    allAccountsPlanned = true;
    for (const s of sources) if (s.scope === 'all-accounts') plan1(s, plan, streaming);
  };
  ctx.progress('discovery', 0);
  // How long the walk took, and how much of it waited for the queue of units to drain: a
  // wait means the units, not the Organizations bucket, set the sync's pace (docs/performance.md).
  const discoveryStart = Date.now();
  let discoveryWaitedMs = 0;
  // A delta whose Organizations feed shows tag changes at most walks the tree for the plan
  // but sends only what may have changed (src/sync/delta.ts, OrganizationDelta).
  const orgDelta = delta ? await delta.organization() : undefined;
  const quietOrg = orgDelta instanceof OrganizationDelta ? orgDelta : undefined;
  try {
    const listed = (id: string, state: string) => {
      // An account outside `accountIds` is known to be out already (discoveryView.entered).
      if (wantedIds && !wantedIds.has(id)) return;
      if (accountState({ State: state as never }) === 'ACTIVE') listedIn.add(id);
      else listedOut.add(id);
      discoveryMoved();
    };
    for await (const e of organization.read({ ...contextFor(orgUnit), listed, ...(quietOrg && { organizationDelta: quietOrg }) })) {
      if (e.kind === 'aws.organization' && e.arn && e.attributes['managementAccountId']) {
        plan.organization = { id: e.name, arn: e.arn, managementAccountId: String(e.attributes['managementAccountId']) };
        if (integration.type === 'aws-organization') planAllAccounts();
      }
      if (e.kind === 'aws.account' && e.accountId && accountState({ State: e.attributes['state'] as never }) === 'ACTIVE') {
        if (!wantedIds || wantedIds.has(e.accountId)) {
          const account: AccountInfo = { id: e.accountId, arn: e.id, name: e.name };
          entered.push(account);
          enteredById.set(account.id, account);
          listedIn.delete(account.id);
          discoveryMoved();
          plan.accounts = entered;
          for (const s of sources) if (s.scope === 'account') plan1(s, onePlan(account), streaming);
          if (queue.size > DISCOVERY_QUEUED_UNITS) {
            const waitFrom = Date.now();
            await queue.onSizeLessThan(DISCOVERY_QUEUED_UNITS / 2);
            discoveryWaitedMs += Date.now() - waitFrom;
          }
        }
      }
      if (!quietOrg || quietOrg.sends(e)) await record(e);
    }
  } catch (err) {
    // Without the organization there is no plan: stop what started and fail the sync.
    stopped = true;
    discoveryOver();
    queue.clear();
    expansion?.directoryDone({ status: 'failed', code: 'JOB_CANCELLED' });
    await Promise.allSettled([...running]);
    throw err;
  }
  plan.accounts = entered;
  const discoveryMs = Date.now() - discoveryStart;
  discoveryOver();
  planAllAccounts();

  // 2. The plan is complete: from now on batches carry cursors.
  discovering = false;
  fingerprint = unitsFingerprint(units.units());
  cursorStep = Math.max(1, Math.floor(units.length / CURSOR_STEPS));
  cover(0, quietOrg ? SKIPPED_UNCHANGED : COMPLETE);
  completed.add(0); // a resumed sync runs the organization unit again whatever the cursor says
  done++; // the organization unit itself
  report();
  if (!streaming) {
    const c = decodeCursor(params.resumeFrom!);
    if (c.fingerprint === fingerprint) {
      // Only positions of this plan matter, and a bitset sized by a forged cursor's largest
      // position could be huge: the others are left out (they named no unit before either).
      for (const pos of c.completed) {
        if (pos < units.length) {
          skip.add(pos);
          resumedUnits++;
        }
      }
    } else warnings.push({ code: 'CURSOR_STALE', message: 'the organization changed since the cursor was made; every unit is read again' });
    // At most RESUME_QUEUED_UNITS ahead of the running ones: all of a large organization's
    // at once, about 1 KB each, would be tens of megabytes. Tracked in `running`, so the
    // sync waits for the last of them below.
    const feed = (async () => {
      for (let pos = 1; pos < units.length; pos++) {
        startUnit(pos);
        if (queue.size > RESUME_QUEUED_UNITS) await queue.onSizeLessThan(RESUME_QUEUED_UNITS / 2);
      }
    })();
    running.add(feed);
    void feed.then(() => running.delete(feed));
  }
  if (delta && sources.some((x) => x.name === 'sso')) {
    // Deletions the feed names exactly are sent as such; the rest show through the units
    // that are re-read in full.
    for (const e of await delta.deletions(integration.ssoRegion ?? integration.region)) await record(e);
  }
  log.info({ event: 'sync.plan', accounts: plan.accounts.length, regions: plan.regions, units: units.length, resumedUnits }, `sync plan: ${plan.accounts.length} accounts, ${units.length} units`);

  // 3. Wait for every unit. A unit that failed is in coverage; only cancellation throws.
  while (running.size > 0) await Promise.allSettled([...running]);
  if (thrown && !signal.aborted) throw thrown.reason;
  const total = units.length;
  if (signal.aborted) throw signal.reason ?? new DOMException('cancelled', 'AbortError');
  await batcher.flush(true);

  // Entries are made one at a time while the output is sized: at 10,000 accounts the log
  // holds some 70,000 units, far more than one frame can carry.
  const logged = coverageLog.length;
  const coverage: CoverageList = {
    length: logged + derivedCoverage.length,
    status: (i) => (i < logged ? STATUS_OF_CODE[coverageLog[i]! & 7]! : derivedCoverage[i - logged]!.status),
    entry: (i) => (i < logged ? coverageEntry(units.unit(coverageLog[i]! >> 3), coverageLog[i]! & 7) : derivedCoverage[i - logged]!),
  };
  const coverageGaps: CoverageGap[] = [...gaps.values()]
    .map((g) => ({ action: g.action, reason: g.reason, accounts: [...g.accounts].sort() }))
    .sort((a, b) => a.action.localeCompare(b.action) || a.reason.localeCompare(b.reason));
  return { output: { ...buildOutput(params, plan, counts, coverage, errors, warnings, lastCursor, coverageGaps), ...(delta && { deleted: deletedCount }) }, stats: { entities: batcher.emitted, units: total, failedUnits: errors.length, discoveryMs, discoveryWaitedMs, ...(expansion && { expand: { derived: derivedCount, ...expansion.held } }) } };
}

// Coverage codes (coverageLog above).
const COMPLETE = 0;
const FAILED = 1;
const SKIPPED_REGION_DISABLED = 2;
const SKIPPED_UNCHANGED = 3;
const SKIPPED_NO_CHANGE_FEED = 4;

const STATUS_OF_CODE: ReadonlyArray<CoverageEntry['status']> = ['complete', 'failed', 'skipped', 'skipped', 'skipped'];

/** The coverage of a sync, read entry by entry (made on demand: see buildOutput). */
export interface CoverageList {
  readonly length: number;
  status(i: number): CoverageEntry['status'];
  entry(i: number): CoverageEntry;
}

function coverageEntry(unit: SyncUnit, code: number): CoverageEntry {
  const where = { accountId: unit.accountId, source: unit.source, region: unit.region };
  if (code === COMPLETE) return { ...where, status: 'complete' };
  if (code === FAILED) return { ...where, status: 'failed' };
  return { ...where, status: 'skipped', reason: code === SKIPPED_UNCHANGED ? 'unchanged' : code === SKIPPED_NO_CHANGE_FEED ? 'noChangeFeed' : 'regionDisabled' };
}

export function buildOutput(
  params: SyncParams,
  plan: SyncPlan,
  counts: Partial<Record<EntityKind, number>>,
  coverageIn: CoverageEntry[] | CoverageList,
  errors: SyncError[],
  warnings: Array<{ code: string; message: string }>,
  cursor: string | undefined,
  coverageGaps: CoverageGap[] = [],
): Record<string, unknown> {
  const coverage: CoverageList = Array.isArray(coverageIn) ? { length: coverageIn.length, status: (i) => coverageIn[i]!.status, entry: (i) => coverageIn[i]! } : coverageIn;
  const out: Record<string, unknown> = {
    mode: params.mode,
    ...(params.since !== undefined && { since: params.since }),
    counts,
    entities: Object.values(counts).reduce((a, b) => a + (b ?? 0), 0),
    accounts: plan.accounts.length,
    regions: plan.regions,
    coverage: [],
    coverageGaps,
    errors,
    warnings,
    ...(cursor !== undefined && { cursor }),
  };
  // The whole output must fit one frame. A control plane infers deletions only inside
  // units marked complete, and infers nothing for a unit it does not see, so leaving
  // entries out is always safe; failed and skipped entries are kept first because they say
  // what to fix.
  // Sized entry by entry, each entry made only when it is looked at: the whole output of a
  // large organization is megabytes of JSON, and tens of thousands of entry objects, made
  // only to be measured and dropped.
  const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v)) + 1;
  let bytes = Buffer.byteLength(JSON.stringify({ ...out, errors: [] }));
  for (let i = 0; i < coverage.length && bytes <= OUTPUT_BUDGET_BYTES; i++) bytes += size(coverage.entry(i));
  for (let i = 0; i < errors.length && bytes <= OUTPUT_BUDGET_BYTES; i++) bytes += size(errors[i]);
  if (bytes <= OUTPUT_BUDGET_BYTES) {
    out['coverage'] = Array.from({ length: coverage.length }, (_, i) => coverage.entry(i));
    return out;
  }
  const kept: CoverageEntry[] = [];
  const omitted = { complete: 0, failed: 0, skipped: 0 };
  const errorsKept = errors.slice(0, 100).map((e) => ({ ...e, message: e.message.slice(0, 200) }));
  let room = OUTPUT_BUDGET_BYTES - Buffer.byteLength(JSON.stringify({ ...out, errors: errorsKept })) - 1024;
  for (const status of ['failed', 'skipped', 'complete'] as const) {
    for (let i = 0; i < coverage.length; i++) {
      if (coverage.status(i) !== status) continue;
      const c = coverage.entry(i);
      const n = size(c);
      if (n <= room) {
        kept.push(c);
        room -= n;
      } else omitted[status]++;
    }
  }
  out['coverage'] = kept;
  out['errors'] = errorsKept;
  out['coverageTruncated'] = { omitted, errorsOmitted: errors.length - errorsKept.length };
  return out;
}
