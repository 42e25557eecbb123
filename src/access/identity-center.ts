// IAM Identity Center helpers shared by the access kinds: the integration's instance, its
// clients, account assignments (asynchronous in AWS), permission set facts, the management
// account check and the AWS access portal link.
//
// Quotas (docs.aws.amazon.com/singlesignon/latest/userguide/limits.html, "IAM Identity
// Center throttle limits"): all Identity Center APIs share 20 TPS, and CreateAccountAssignment
// allows at most 10 outstanding asynchronous calls; neither can be raised. The TPS is the
// client limiter's (src/aws/quotas.ts); the outstanding limit is a process-wide semaphore
// sized by the ssoMaxOutstandingAssignments setting, and a ConflictException or
// ThrottlingException (other writers share the limit) is "slow down", never a failure.
import {
  CreateAccountAssignmentCommand,
  DeleteAccountAssignmentCommand,
  DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand,
  DescribePermissionSetCommand,
  ListAccountAssignmentCreationStatusCommand,
  ListAccountAssignmentDeletionStatusCommand,
  ListAccountAssignmentsCommand,
  ListCustomerManagedPolicyReferencesInPermissionSetCommand,
  ListInstancesCommand,
  ListManagedPoliciesInPermissionSetCommand,
  SSOAdminClient,
  type AccountAssignmentOperationStatus,
} from '@aws-sdk/client-sso-admin';
import { IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { isConflict, isNotFound, isThrottle } from '../aws/errors.js';
import { collect, pageSize, paginate } from '../aws/paginate.js';
import type { IntegrationSession } from '../aws/session.js';
import { ConnectorError } from '../errors.js';
import { sharedFact } from './context.js';
import { beforeChange, sendChange, unchanged, type AccessContext } from './types.js';

const INSTANCE_TTL_MS = 10 * 60_000;
const PERMISSION_SET_TTL_MS = 60_000;

const PARTITION = '(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc)';
/** Identity Store user/group id: a UUID, optionally prefixed by 10 hex digits (AWS's documented pattern). */
export const IDENTITY_STORE_ID = /^([0-9a-f]{10}-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const ACCOUNT_ID = /^\d{12}$/;
// AWS allows [A-Za-z0-9-./] in both ids; real ones are 16 hex digits, and the narrower
// pattern keeps `../` and the like out of every ARN we send or echo.
export const PERMISSION_SET_ARN = new RegExp(`^arn:${PARTITION}:sso:::permissionSet/ssoins-[0-9a-f]{16}/ps-[0-9a-f]{16}$`);

export interface SsoInstanceInfo {
  instanceArn: string;
  identityStoreId: string;
  region: string;
}

export interface AssignmentRef {
  accountId: string;
  permissionSetArn: string;
  principalType: 'USER' | 'GROUP';
  principalId: string;
}

/** What the policy needs to know about one permission set. */
export interface PermissionSetInfo {
  arn: string;
  name: string;
  /** ISO 8601 duration of the console/CLI sessions it gives (PT1H). */
  sessionDuration?: string;
  /** AWS managed policy ARNs. */
  managedPolicies: string[];
  /** Customer managed policy references: resolved to an ARN in each account the set is used in. */
  customerManaged: { name: string; path: string }[];
}

// Per job (the session goes away with it): the permission sets read by facts(), which
// accessDetails() (synchronous) reuses. Across jobs a permission set's name, session
// duration and policies are kept for PERMISSION_SET_TTL_MS (sharedFact): 100 grants of one
// permission set read it once, not 100 times. The policy may therefore judge a grant on
// facts up to that old (docs/policy.md, "Facts the policy is checked against").
const caches = new WeakMap<IntegrationSession, Map<string, PermissionSetInfo>>();
function permissionSetCache(ctx: AccessContext): Map<string, PermissionSetInfo> {
  let c = caches.get(ctx.session);
  if (!c) caches.set(ctx.session, (c = new Map()));
  return c;
}

export function ssoRegionOf(ctx: AccessContext): string {
  return ctx.integration.ssoRegion ?? ctx.integration.region;
}

export function ssoAdminClient(ctx: AccessContext): Promise<SSOAdminClient> {
  return ctx.session.managementClient(SSOAdminClient, ssoRegionOf(ctx));
}

export function identityStoreClient(ctx: AccessContext): Promise<IdentitystoreClient> {
  return ctx.session.managementClient(IdentitystoreClient, ssoRegionOf(ctx));
}

/** The integration's Identity Center instance (ListInstances in the SSO region, as the management identity). */
export function ssoInstance(ctx: AccessContext): Promise<SsoInstanceInfo> {
  const i = ctx.integration;
  return sharedFact(ctx, `sso-instance|${i.roleArn ?? ''}|${i.profile ?? ''}|${ssoRegionOf(ctx)}`, INSTANCE_TTL_MS, async () => {
    const region = ssoRegionOf(ctx);
    const sso = await ssoAdminClient(ctx);
    for await (const page of paginate(async (t) => {
      const r = await sso.send(new ListInstancesCommand({ MaxResults: pageSize('ssoAdmin'), NextToken: t }));
      return { items: r.Instances, next: r.NextToken };
    })) {
      const i = page.find((x) => x.InstanceArn && x.IdentityStoreId);
      if (i) return { instanceArn: i.InstanceArn!, identityStoreId: i.IdentityStoreId!, region };
    }
    // Nothing to grant into: the instance does not exist where we looked.
    throw new ConnectorError(
      'AWS_NOT_FOUND',
      `sso-admin.ListInstances in ${region}: no IAM Identity Center instance is visible to the management identity; set the integration's ssoRegion to the region of the organization's instance`,
    );
  });
}

/** Name, session duration and managed policies of a permission set of the integration's instance. */
export async function permissionSetInfo(ctx: AccessContext, permissionSetArn: string): Promise<PermissionSetInfo> {
  const cache = permissionSetCache(ctx);
  const known = cache.get(permissionSetArn);
  if (known) return known;
  const i = ctx.integration;
  const info = await sharedFact(ctx, `permission-set|${i.roleArn ?? ''}|${i.profile ?? ''}|${permissionSetArn}`, PERMISSION_SET_TTL_MS, () => readPermissionSet(ctx, permissionSetArn));
  cache.set(permissionSetArn, info);
  return info;
}

async function readPermissionSet(ctx: AccessContext, permissionSetArn: string): Promise<PermissionSetInfo> {
  const inst = await ssoInstance(ctx);
  const instanceId = inst.instanceArn.split('/').pop();
  if (permissionSetArn.split('/')[1] !== instanceId) {
    throw new ConnectorError('AWS_NOT_FOUND', `permission set ${permissionSetArn} belongs to another Identity Center instance than the integration's (${inst.instanceArn})`);
  }
  const sso = await ssoAdminClient(ctx);
  const input = { InstanceArn: inst.instanceArn, PermissionSetArn: permissionSetArn };
  const ps = (await sso.send(new DescribePermissionSetCommand(input))).PermissionSet;
  const managed = await collect(paginate(async (t) => {
    const r = await sso.send(new ListManagedPoliciesInPermissionSetCommand({ ...input, MaxResults: pageSize('ssoAdmin'), NextToken: t }));
    return { items: r.AttachedManagedPolicies, next: r.NextToken };
  }));
  const customer = await collect(paginate(async (t) => {
    const r = await sso.send(new ListCustomerManagedPolicyReferencesInPermissionSetCommand({ ...input, MaxResults: pageSize('ssoAdmin'), NextToken: t }));
    return { items: r.CustomerManagedPolicyReferences, next: r.NextToken };
  }));
  const info: PermissionSetInfo = {
    arn: permissionSetArn,
    name: ps?.Name ?? permissionSetArn,
    ...(ps?.SessionDuration && { sessionDuration: ps.SessionDuration }),
    managedPolicies: managed.flatMap((m) => (m.Arn ? [m.Arn] : [])),
    customerManaged: customer.flatMap((c) => (c.Name ? [{ name: c.Name, path: c.Path ?? '/' }] : [])),
  };
  return info;
}

/** A permission set facts() already read in this job, for accessDetails(). */
export function knownPermissionSet(ctx: AccessContext, permissionSetArn: string): PermissionSetInfo | undefined {
  return caches.get(ctx.session)?.get(permissionSetArn);
}

/** Every managed policy ARN the permission set puts into these accounts (customer managed ones resolved per account). */
export function policiesIn(ps: PermissionSetInfo, accountIds: readonly string[]): string[] {
  const partition = ps.arn.split(':')[1];
  const out = [...ps.managedPolicies];
  for (const a of accountIds) for (const c of ps.customerManaged) out.push(`arn:${partition}:iam::${a}:policy${c.path}${c.name}`);
  return out;
}

export async function hasAssignment(ctx: AccessContext, a: AssignmentRef): Promise<boolean> {
  const inst = await ssoInstance(ctx);
  const sso = await ssoAdminClient(ctx);
  for await (const page of paginate(async (t) => {
    const r = await sso.send(new ListAccountAssignmentsCommand({
      InstanceArn: inst.instanceArn, AccountId: a.accountId, PermissionSetArn: a.permissionSetArn, MaxResults: pageSize('ssoAdmin'), NextToken: t,
    }));
    return { items: r.AccountAssignments, next: r.NextToken };
  })) {
    if (page.some((x) => x.PrincipalType === a.principalType && x.PrincipalId === a.principalId)) return true;
  }
  return false;
}

/** How long ConflictException / surviving throttling is retried before the error is reported. */
const SLOW_DOWN_FOR_MS = 2 * 60_000;
/** How long an assignment may stay IN_PROGRESS before ACCESS_TIMEOUT (the ledger keeps the grant for a retry). */
const POLL_DEADLINE_MS = 5 * 60_000;
const POLL_FIRST_MS = 250;
const POLL_MAX_MS = 2_000;
/** Longest first wait learned from earlier operations. */
const POLL_LEARNED_MAX_MS = 10_000;

/**
 * While nothing is learned for a key, one operation (the probe) reads on a fine schedule
 * and the others started meanwhile wait for what it learns, then read once: without this,
 * each of the first round's operations (up to the outstanding limit) pays its own probing
 * reads. Resolved when the probe's wait ends, whatever its outcome.
 */
const probes = new Map<string, Promise<void>>();
/** How long an operation waits for another's probe before it reads on its own schedule. */
const PROBE_WAIT_MAX_MS = POLL_LEARNED_MAX_MS;
/** After a first read that came too early, the next comes this fraction of that wait later. */
const REREAD_FRACTION = 0.1;
const REREAD_MIN_MS = 50;
/** An operation's length is learned as this many times the last time it was seen running. */
const LEARN_MARGIN = 1.3;

/**
 * Per instance and verb: about how long an operation takes, learned from this process's
 * earlier ones. The first status read waits that long, so most operations need one read
 * instead of two to four (reads share the instance's 20 TPS with every other call). An
 * operation found done at the first read lowers the estimate a little (0.5 %), one that was
 * not sets it from what its reads showed (`waitForStatus`), so it follows AWS both ways;
 * always within 250 ms and 10 s, whatever the clock says.
 */
const typicalMs = new Map<string, number>();
function learn(key: string, tookMs: number, reads: number): void {
  const t = typicalMs.get(key);
  if (reads <= 1 && t !== undefined) typicalMs.set(key, Math.max(POLL_FIRST_MS, t * 0.995));
  else if (reads > 1 || t === undefined) typicalMs.set(key, Math.min(POLL_LEARNED_MAX_MS, Math.max(POLL_FIRST_MS, tookMs)));
}

/** Whether `p` settled within `ms` (false: the time ran out first); leaves no timer behind. */
async function settledWithin(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([p.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return settled;
}
/** Waits for a probe that ran out of time (diagnostics: statusReadState). */
let probeWaitsTimedOut = 0;
/** Operations that waited for a probe and were never seen running, so taught nothing (diagnostics). */
let waitedNotLearned = 0;

/** Runs `fn`, retrying "slow down" answers with jittered backoff for a bounded time. */
export async function slowDownRetry<T>(ctx: AccessContext, fn: () => Promise<T>, retryable: (err: unknown) => boolean = isSlowDown): Promise<T> {
  const deadline = ctx.now() + SLOW_DOWN_FOR_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!retryable(err) || ctx.now() >= deadline) throw err;
      const cap = Math.min(5_000, 250 * 2 ** attempt);
      await ctx.sleep(cap / 2 + Math.random() * (cap / 2));
    }
  }
}

function isSlowDown(err: unknown): boolean {
  return isConflict(err) || isThrottle(err);
}

function describeRef(a: AssignmentRef): string {
  return `${a.principalType.toLowerCase()} ${a.principalId} in account ${a.accountId} with permission set ${a.permissionSetArn}`;
}

/** Pages of the IN_PROGRESS list read per round; more than this many running operations and each is described instead. */
const SHARED_LIST_MAX_PAGES = 3;

/**
 * Status reads shared by the operations of one instance and verb that are still running
 * after their first read. One List…Status filtered on IN_PROGRESS answers for all of them
 * (one call instead of one Describe each); only an operation that has left that list is
 * described, once, for its outcome and failure reason, which the list does not carry. A
 * list that cannot be read, or lags behind a new request, only costs that Describe.
 */
class SharedStatusReads {
  waiting = 0;
  /** The last list: when it was asked for, and its ids with when they were answered. */
  private round: { startedAt: number; ids: Promise<{ ids: Set<string> | undefined; at: number }> } | undefined;

  /**
   * The ids AWS listed as running, from a list asked for after `createdAt`, and when that
   * list was answered (what it says was true then, not now); ids undefined when unknown.
   */
  async inProgress(clock: () => number, createdAt: number, list: () => Promise<Set<string>>): Promise<{ ids: Set<string> | undefined; at: number }> {
    const now = clock();
    // A round still in flight, or ended within the shortest poll interval, was taken after
    // the request existed: reuse it rather than list again.
    if (!(this.round && this.round.startedAt >= createdAt && now - this.round.startedAt < POLL_FIRST_MS)) {
      this.round = { startedAt: now, ids: list().then((ids) => ({ ids, at: clock() }), () => ({ ids: undefined, at: clock() })) };
    }
    return this.round.ids;
  }
}
const sharedReads = new Map<string, SharedStatusReads>();

/** The running requests of the instance for `verb`, or an error when there are too many to list cheaply. */
async function listInProgress(sso: SSOAdminClient, inst: SsoInstanceInfo, verb: 'create' | 'delete'): Promise<Set<string>> {
  const ids = new Set<string>();
  let token: string | undefined;
  for (let pages = 0; pages < SHARED_LIST_MAX_PAGES; pages++) {
    const input = { InstanceArn: inst.instanceArn, Filter: { Status: 'IN_PROGRESS' as const }, MaxResults: 100, NextToken: token };
    const out = verb === 'create'
      ? await sso.send(new ListAccountAssignmentCreationStatusCommand(input)).then((o) => ({ items: o.AccountAssignmentsCreationStatus, next: o.NextToken }))
      : await sso.send(new ListAccountAssignmentDeletionStatusCommand(input)).then((o) => ({ items: o.AccountAssignmentsDeletionStatus, next: o.NextToken }));
    for (const m of out.items ?? []) if (m.RequestId) ids.add(m.RequestId);
    token = out.next;
    if (!token) return ids;
  }
  throw new Error('too many running operations to list');
}

/** Polls an assignment operation until AWS says SUCCEEDED; FAILED and the deadline are errors. */
async function waitForStatus(
  ctx: AccessContext,
  verb: 'create' | 'delete',
  a: AssignmentRef,
  inst: SsoInstanceInfo,
  first: AccountAssignmentOperationStatus | undefined,
  describe: (requestId: string) => Promise<AccountAssignmentOperationStatus | undefined>,
  list: () => Promise<Set<string>>,
): Promise<void> {
  const requestId = first?.RequestId;
  if (!requestId) throw new ConnectorError('AWS_ERROR', `sso-admin: ${verb} of the assignment of ${describeRef(a)} returned no request id`);
  const key = `${verb}|${inst.instanceArn}`;
  const started = ctx.now();
  const deadline = started + POLL_DEADLINE_MS;
  let status: AccountAssignmentOperationStatus | undefined = first;
  let learned = typicalMs.get(key);
  let endProbe: (() => void) | undefined;
  /** This operation waited for another's probe: its time since `started` is not AWS's alone. */
  let waitedForProbe = false;
  if (learned === undefined && status?.Status === 'IN_PROGRESS') {
    const probe = probes.get(key);
    if (probe) {
      if (!(await settledWithin(probe, PROBE_WAIT_MAX_MS))) probeWaitsTimedOut++;
      waitedForProbe = true;
      learned = typicalMs.get(key);
    }
    // Nothing learned (none probing, or the probe ended without learning): this one probes.
    if (learned === undefined && !probes.has(key)) probes.set(key, new Promise<void>((resolve) => (endProbe = resolve)));
  }
  // Counted after any wait for a probe: operations parked on a probe do not make the probe
  // read the shared list instead of describing its own operation.
  const shared = sharedReads.get(key) ?? new SharedStatusReads();
  sharedReads.set(key, shared);
  shared.waiting++;
  try {
    // Learned: read when an operation like the last ones would be done (counted from this
    // one's start, which may be behind us after waiting for a probe). Not learned: the probe's
    // schedule, each read 1.5 times as late as the one before, so what it learns is within
    // half of the truth instead of double.
    // (Never longer than `learned`, should the clock step back while waiting for a probe.)
    let wait = learned !== undefined ? Math.min(learned, Math.max(0, learned - (ctx.now() - started))) : POLL_FIRST_MS;
    let reads = 0;
    /** The waits slept so far: the probe's schedule grows from them, not from the clock. */
    let slept = 0;
    // When the last read was asked for. What is learned is the wait until then, not until its
    // answer: the answer also waited for a token of the instance's rate, which the next
    // operation's read waits for again, and counting it twice would make every read late.
    let readAt = started;
    /** When AWS last said the operation was still running (the create's answer first; a shared list's answer, however old). */
    let runningAt = started;
    for (;;) {
      if (status?.Status === 'SUCCEEDED') {
        // Done at the read asked for at readAt, still running at runningAt: somewhere
        // between, learned as a little past the latter (a first read that then comes too
        // early only costs one read more, and raises it again). An operation that waited for
        // a probe and was never seen running tells nothing: its time includes that wait.
        const seenRunning = runningAt - started;
        if (waitedForProbe && seenRunning <= 0) waitedNotLearned++;
        else if (reads > 0) learn(key, seenRunning > 0 ? Math.min(readAt - started, LEARN_MARGIN * seenRunning) : readAt - started, reads);
        return;
      }
      if (status?.Status === 'FAILED') {
        const reason = (status.FailureReason ?? 'AWS gave no reason').slice(0, 500);
        // The one answer that proves the operation changed nothing.
        throw unchanged(new ConnectorError('ACCESS_FAILED', `Identity Center could not ${verb} the assignment of ${describeRef(a)}: ${reason}`));
      }
      if (ctx.now() >= deadline) {
        throw new ConnectorError('ACCESS_TIMEOUT', `Identity Center has not finished the ${verb} of the assignment of ${describeRef(a)} after ${POLL_DEADLINE_MS / 60_000} minutes (request ${requestId}); retry the job`);
      }
      await ctx.sleep(wait);
      slept += wait;
      // After a first wait that was learned and too short, the operation is most likely
      // just past it: read again a little later (a tenth of that wait), then back off. Every
      // wait after the first is at least REREAD_MIN_MS, whatever the clock did.
      if (learned === undefined) wait = Math.min(POLL_MAX_MS, Math.max(REREAD_MIN_MS, slept * 0.5));
      else if (reads === 0) wait = Math.max(REREAD_MIN_MS, learned * REREAD_FRACTION);
      else wait = Math.min(POLL_MAX_MS, wait * 2);
      reads++;
      readAt = ctx.now();
      // Past the first read the operation is a slow one: while others of the instance wait
      // too, their shared list tells whether it still runs, and only its end is described.
      if (reads > 1 && shared.waiting > 1) {
        const listed = await shared.inProgress(() => ctx.now(), started, list);
        if (listed.ids?.has(requestId)) {
          runningAt = Math.max(runningAt, listed.at);
          continue;
        }
      }
      try {
        status = await describe(requestId);
        // Running when AWS answered (its answer comes a few milliseconds after it looked).
        if (status?.Status === 'IN_PROGRESS') runningAt = ctx.now();
      } catch (err) {
        // The status may not be readable at once (eventual consistency), and throttling that
        // outlived the SDK's retries is no reason to abandon an operation AWS is running.
        // Anything else ends the wait with the operation's outcome unknown: AWS may still
        // finish it, so the caller must not take this for a failure (run-access.ts).
        if (!isThrottle(err) && !isNotFound(err)) throw err;
      }
    }
  } finally {
    if (--shared.waiting === 0) sharedReads.delete(key);
    // Whatever the probe's outcome, the operations waiting for it go on.
    if (endProbe) {
      probes.delete(key);
      endProbe();
    }
  }
}

/**
 * For tests and diagnostics: what the status reads have learned, the probes under way, the
 * waits for one that ran out, and the operations that waited for one and taught nothing.
 */
export function statusReadState(): { learnedMs: Record<string, number>; probes: number; probeWaitsTimedOut: number; waitedNotLearned: number } {
  return { learnedMs: Object.fromEntries(typicalMs), probes: probes.size, probeWaitsTimedOut, waitedNotLearned };
}

/** One slot of the process-wide outstanding-operation limit of the instance. */
function assignmentSlot<T>(ctx: AccessContext, inst: SsoInstanceInfo, fn: () => Promise<T>): Promise<T> {
  return ctx.limit(`sso-assignment-ops:${inst.instanceArn}`, ctx.settings.ssoMaxOutstandingAssignments, fn);
}

function assignmentInput(inst: SsoInstanceInfo, a: AssignmentRef) {
  return {
    InstanceArn: inst.instanceArn, TargetId: a.accountId, TargetType: 'AWS_ACCOUNT' as const,
    PermissionSetArn: a.permissionSetArn, PrincipalType: a.principalType, PrincipalId: a.principalId,
  };
}

/**
 * Creates the assignment and returns only once AWS reports it SUCCEEDED. Errors marked
 * unchanged() (refused, FAILED) prove nothing was created; any other error after the call
 * was sent leaves the outcome unknown.
 */
export async function createAssignment(ctx: AccessContext, a: AssignmentRef): Promise<void> {
  const inst = await beforeChange(() => ssoInstance(ctx));
  const sso = await beforeChange(() => ssoAdminClient(ctx));
  await assignmentSlot(ctx, inst, async () => {
    const r = await slowDownRetry(ctx, () => sendChange(() => sso.send(new CreateAccountAssignmentCommand(assignmentInput(inst, a)))));
    await waitForStatus(ctx, 'create', a, inst, r.AccountAssignmentCreationStatus, async (id) =>
      (await sso.send(new DescribeAccountAssignmentCreationStatusCommand({ InstanceArn: inst.instanceArn, AccountAssignmentCreationRequestId: id }))).AccountAssignmentCreationStatus,
    () => listInProgress(sso, inst, 'create'));
  });
}

/** Deletes the assignment and waits for AWS to confirm; a missing assignment is 'absent'. */
export async function deleteAssignment(ctx: AccessContext, a: AssignmentRef): Promise<'deleted' | 'absent'> {
  const inst = await ssoInstance(ctx);
  const sso = await ssoAdminClient(ctx);
  return assignmentSlot(ctx, inst, async () => {
    let r;
    try {
      r = await slowDownRetry(ctx, () => sso.send(new DeleteAccountAssignmentCommand(assignmentInput(inst, a))));
    } catch (err) {
      if (isNotFound(err)) return 'absent';
      throw err;
    }
    await waitForStatus(ctx, 'delete', a, inst, r.AccountAssignmentDeletionStatus, async (id) =>
      (await sso.send(new DescribeAccountAssignmentDeletionStatusCommand({ InstanceArn: inst.instanceArn, AccountAssignmentDeletionRequestId: id }))).AccountAssignmentDeletionStatus,
    () => listInProgress(sso, inst, 'delete'));
    return 'deleted';
  });
}

// ---- AWS access portal ----

export interface Portal {
  /** Canonical portal address, rebuilt from the validated parts (never the raw setting). */
  url: string;
  /** Whether the portal takes shortcut links (`#/console?account_id=…&role_name=…`). */
  shortcuts: boolean;
}

const REGION = '[a-z]{2}(-[a-z]+)+-\\d{1,2}';
const SUBDOMAIN = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';

/**
 * The integration's ssoPortalUrl when it is an Identity Center access portal, else undefined.
 * Accepted: https://<d-xxxxxxxxxx|alias>.awsapps.com/start (and .awsapps.cn), GovCloud's
 * https://start[.<region>].us-gov-home.awsapps.com/directory/<id|alias>, the dual-stack
 * https://ssoins-<id>.portal.<region>.app.aws and an additional Region's
 * https://ssoins-<id>.<region>.portal.amazonaws.com. Shortcut links (docs: singlesignon
 * userguide "createshortcutlink") are only built on the classic /start portals, where their
 * format is established.
 */
export function parsePortalUrl(raw: string | undefined): Portal | undefined {
  if (!raw || raw.length > 512) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' || u.username || u.password || u.port || u.search) return undefined;
  const host = u.hostname;
  const path = u.pathname.replace(/\/$/, '');
  if (new RegExp(`^${SUBDOMAIN}\\.awsapps\\.(com|cn)$`).test(host) && path === '/start') {
    return { url: `https://${host}/start`, shortcuts: true };
  }
  const gov = /^\/directory\/([a-z0-9-]{1,63})$/i.exec(path);
  if (new RegExp(`^start\\.(${REGION}\\.)?us-gov-home\\.awsapps\\.com$`).test(host) && gov) {
    return { url: `https://${host}/directory/${gov[1]}`, shortcuts: false };
  }
  if (new RegExp(`^ssoins-[0-9a-f]{16}\\.(portal\\.${REGION}\\.app\\.aws|${REGION}\\.portal\\.amazonaws\\.com)$`).test(host) && (path === '' || path === '/start')) {
    return { url: `https://${host}${path}`, shortcuts: false };
  }
  return undefined;
}

/** The portal link for accessDetails, and a sentence when there is none. */
export function portalLink(ctx: AccessContext, shortcut?: { accountId: string; roleName: string }): { url?: string; note?: string } {
  const raw = ctx.integration.ssoPortalUrl;
  if (!raw) return { note: "Sign in through your organization's AWS access portal (ask your administrator for its address)." };
  const portal = parsePortalUrl(raw);
  // A setting that is not a portal address is never turned into a link for a person to follow.
  if (!portal) return { note: "The integration's ssoPortalUrl is not an IAM Identity Center access portal address, so no link is given; ask your administrator for the portal address." };
  if (!shortcut || !portal.shortcuts) return { url: portal.url };
  const q = `account_id=${shortcut.accountId}&role_name=${encodeURIComponent(shortcut.roleName)}`;
  return { url: `${portal.url}/#/console?${q}` };
}

/** "PT8H" → "8 hours"; anything else is shown as AWS wrote it. */
export function formatDuration(iso: string | undefined): string | undefined {
  if (!iso) return undefined;
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?$/.exec(iso);
  if (!m || (!m[1] && !m[2])) return iso;
  const parts = [m[1] && `${Number(m[1])} hour${m[1] === '1' ? '' : 's'}`, m[2] && `${Number(m[2])} minute${m[2] === '1' ? '' : 's'}`].filter(Boolean);
  return parts.join(' ');
}
