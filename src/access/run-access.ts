// Grant and revoke, for every access kind: the ledger, the customer's policy, the lock,
// idempotency, overlapping grants and cancellation live here, once, so that a kind only
// knows how to read, create and remove its own shape of access.
//
// Grant:  policy (facts) → ledger record `pending` → lock → describe → holder, change
//         marked sent → apply → `granted`.
// Revoke: ledger → lock → drop this grant from the access's holders → remove the access
//         only when no holder is left and it was not there before us → `revoked`.
// A grant recorded before it is applied can always be found again (sweeper, revoke,
// reconciliation), whatever happens to the process in between. Once its change was sent,
// a failure is not taken for "nothing happened": AWS may have applied it, or may still.
import { createHash } from 'node:crypto';
import { uninterruptible } from '../aws/clients.js';
import type { AwsRuntime } from '../aws/runtime.js';
import type { Config } from '../config.js';
import { ConnectorError, toJobError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Integration } from '../protocol/messages.js';
import { auditEvents, type AuditResult } from './audit.js';
import { roleSessionNameFor } from './iam-common.js';
import { makeAccessContext } from './context.js';
import { ACTIVE_STATES, LedgerRace, type AccessRecord, type GrantRecord, type Ledger } from './ledger.js';
import { refuseExpiredGrant } from './params.js';
import { accountOuPath, admitAccess, checkFacts, factLookups } from './policy.js';
import { kindOf } from './registry.js';
import { isUnchanged, type AccessContext, type AccessKindDef, type AccessOutput, type AccessRequest } from './types.js';

export interface AccessDeps {
  aws: AwsRuntime;
  ledger: Ledger | undefined;
  config: Config;
  log: Logger;
  now?: () => number;
}

export interface AccessJob {
  jobId: string;
  integration: Integration;
  request: AccessRequest;
  signal: AbortSignal;
  log: Logger;
}

/** Why a revoke runs: a job, the sweeper (expiry), or the operator's kill switch. */
export type RevokeOrigin = 'job' | 'expiry' | 'kill-switch';

const RACE_RETRIES = 5;

/** The request without its expiry: two requests for the same access share it. */
export function fingerprintOf(req: AccessRequest): string {
  // The expiry, the display email and the order of id lists do not change what is granted.
  const { expiresAt: _e, grantId: _g, principal, ...rest } = req;
  const { email: _m, ...who } = principal;
  return createHash('sha256').update(JSON.stringify(sortKeys({ ...rest, principal: who }))).digest('hex').slice(0, 32);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? [...v].sort() : v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

function requireLedger(ledger: Ledger | undefined): Ledger {
  if (!ledger) throw new ConnectorError('LEDGER_UNAVAILABLE', 'grant and revoke need the grant ledger: LEDGER_TABLE is not set; set it to the table the templates created (AccessMode=manage), or to a new name and run `access-connector ledger init` for local use');
  return ledger;
}

/** The AccessContext of one job (or sweep) with the process's settings. */
export function contextFor(deps: AccessDeps, integration: Integration, signal: AbortSignal, log: Logger): AccessContext {
  return makeAccessContext({
    session: deps.aws.session(integration),
    integration,
    log,
    signal,
    ...(deps.now && { now: deps.now }),
    ssoMaxOutstandingAssignments: deps.config.ssoMaxOutstandingAssignments,
    allowExternalIdentityWrites: deps.config.policy?.accessKinds.allowExternalIdentitySourceWrites ?? false,
    connectorRoleNames: deps.config.connectorRoleNames,
    allowOrganizationAccountAccessRole: deps.config.policy?.accessKinds.allowOrganizationAccountAccessRole ?? false,
    jitRoles: deps.config.jitRoles,
  });
}

/** The access details of a grant: the kind's, plus the integration's own text. */
function detailsOf(kind: AccessKindDef, ctx: AccessContext, req: AccessRequest): AccessOutput['accessDetails'] {
  const d = kind.accessDetails(ctx, req);
  return { ...d, ...(ctx.integration.customAccessDetails !== undefined && { custom: ctx.integration.customAccessDetails }) };
}

/** What a revoke (or a grant that found its grant revoked) says: no way in, only what revoke cannot end. */
function revokedDetailsOf(kind: AccessKindDef, ctx: AccessContext, req: AccessRequest): AccessOutput['accessDetails'] {
  const limits = kind.accessDetails(ctx, req).revokeLimits;
  return {
    instructions: 'Revoked: this access can no longer be used to sign in or start a session; revokeLimits says what stays valid until it expires.',
    ...(limits !== undefined && { revokeLimits: limits }),
  };
}

/** When the sweeper must revoke: expiresAt, or earlier when the kind's credentials must be rotated. */
function deadlineOf(kind: AccessKindDef, req: AccessRequest, integration: Integration, grantedAt: number): string | undefined {
  const rotation = kind.createsCredentials && integration.credentialRotationDays > 0 ? grantedAt + integration.credentialRotationDays * 86_400_000 : undefined;
  const expires = req.expiresAt !== undefined ? Date.parse(req.expiresAt) : undefined;
  const t = rotation === undefined ? expires : expires === undefined ? rotation : Math.min(rotation, expires);
  return t === undefined ? undefined : new Date(t).toISOString();
}

/** Retries `fn` when a conditional ledger write lost a race (another replica or job changed the item). */
async function onRace<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof LedgerRace) || i >= RACE_RETRIES) throw err;
    }
  }
}

// -------------------------------------------------------------------------------------
// Grant

export async function runGrant(deps: AccessDeps, job: AccessJob): Promise<AccessOutput> {
  const ledger = requireLedger(deps.ledger);
  const now = deps.now ?? Date.now;
  const req = job.request;
  refuseExpiredGrant(req, now());
  const kind = kindOf(req.accessKind);
  const ctx = contextFor(deps, job.integration, job.signal, job.log);
  const fingerprint = fingerprintOf(req);
  const accessKey = kind.accessKey(req);
  const lockKey = kind.lockKey?.(req) ?? accessKey;

  let record = await ledger.getGrant(req.grantId);
  if (record && (record.fingerprint !== fingerprint || record.kind !== req.accessKind)) {
    throw new ConnectorError('GRANT_CONFLICT', `grant ${req.grantId} is recorded for other access (${record.kind}); use a new grantId`);
  }
  if (record?.state === 'revoked') {
    // Its revoke came first (or the grant was revoked and this is a late retry): the
    // grant stays revoked rather than re-creating access nobody holds any more.
    return { grantId: req.grantId, state: 'revoked', accessDetails: revokedDetailsOf(kind, ctx, req), preExisting: record.preExisting, note: 'this grant was already revoked; nothing was granted' };
  }
  if (record?.state === 'revoking') throw revokingError(req.grantId);

  // The customer's policy, on what the access really reaches (read before any write).
  const facts = await kind.facts(ctx, req);
  // Accounts under an excluded OU are outside the integration: never granted to.
  if (job.integration.excludeOrganizationalUnitIds.length > 0) {
    const excluded = new Set(job.integration.excludeOrganizationalUnitIds);
    for (const id of facts.accountIds) {
      const ou = (await accountOuPath(ctx.session, id)).find((o) => excluded.has(o));
      if (ou) throw new ConnectorError('ACCESS_REFUSED', `account ${id} is under ${ou}, which the integration excludes (excludeOrganizationalUnitIds)`);
    }
  }
  const verdict = await checkFacts(deps.config.policy, job.integration, facts, (id) => accountOuPath(ctx.session, id), factLookups(ctx, req));
  if (!verdict.ok) throw new ConnectorError('POLICY_DENIED', `policy rule ${verdict.rule}: ${verdict.message}`);

  if (!record) {
    const made = await ledger.createGrant({
      grantId: req.grantId, kind: req.accessKind, accessKey, lockKey, fingerprint, request: req, integration: job.integration,
      state: 'pending', preExisting: false, ...(req.expiresAt !== undefined && { expiresAt: req.expiresAt }),
    });
    record = made.record;
    if (made.created) await ledger.appendEvent(req.grantId, 'recorded', { jobId: job.jobId });
    else if (record.fingerprint !== fingerprint) throw new ConnectorError('GRANT_CONFLICT', `grant ${req.grantId} is recorded for other access; use a new grantId`);
  }

  let locked = false;
  try {
    return await ledger.withLock(lockKey, async () => {
    locked = true;
    let g = (await ledger.getGrant(req.grantId)) ?? record!;
    if (g.state === 'revoked') {
      return { grantId: req.grantId, state: 'revoked', accessDetails: revokedDetailsOf(kind, ctx, req), preExisting: g.preExisting, note: 'the grant was revoked while this job waited; nothing was granted' } satisfies AccessOutput;
    }
    if (g.state === 'revoking') throw revokingError(req.grantId);
    // Until the first change, any failure or cancel leaves AWS untouched: the ledger says
    // so (`failed` / `cancelled`) instead of leaving a `pending` record behind.
    let access: AccessRecord | undefined;
    let before: Awaited<ReturnType<typeof kind.describe>>;
    try {
      access = await ledger.getAccess(accessKey);
      if (access && access.holders.length > 0 && access.fingerprint !== fingerprint && !access.holders.includes(req.grantId)) {
        throw new ConnectorError('GRANT_CONFLICT', `${kind.name} on this principal is held by grant ${access.holders[0]} with other settings; revoke it first`);
      }
      before = await kind.describe(ctx, req);
      job.signal.throwIfAborted(); // the last point at which a cancel leaves AWS untouched
    } catch (err) {
      const state = job.signal.aborted ? 'cancelled' : 'failed';
      await uninterruptible(() => markUnchanged(ledger, req.grantId, accessKey, g, state, job.jobId, err));
      throw err;
    }
    // From here on the job finishes what it starts, even if cancelled: every AWS and
    // ledger call below ignores the job's cancellation.
    return uninterruptible(async () => {
    let note: string | undefined;
    // A change an earlier attempt of this grant sent may be what describe found: ours.
    const heldByUs = g.changeSentAt !== undefined || (access !== undefined && (access.holders.length > 0 || !access.preExisting));
    if (before.present && !heldByUs) {
      // Access that exists and that no grant of ours created: pre-existing. Recorded so
      // that no revoke ever removes it, and nothing in AWS is touched.
      access = await ledger.putAccess(access, {
        accessKey, kind: kind.name, fingerprint, holders: [...(access?.holders ?? []), req.grantId], preExisting: true,
        kept: { ...(before.observed ?? {}) }, request: req, integration: job.integration,
      });
      note = 'the access was already in place before this grant; its revoke will leave it';
    } else {
      // Holder first, then the change: a crash in between leaves a record that says the
      // access may be ours, so the sweeper or a retry can finish or remove it.
      access = await ledger.putAccess(access, {
        accessKey, kind: kind.name, fingerprint, holders: [...(access?.holders ?? []), req.grantId],
        // Access we are about to create is ours even if a record once called it pre-existing.
        preExisting: before.present ? access?.preExisting ?? false : false, kept: { ...(access?.kept ?? before.observed ?? {}) },
        request: access?.request ?? req, integration: access?.integration ?? job.integration,
      });
      if (!before.present) {
        // Recorded before it is sent: a retry then never takes this change for access
        // someone else gave, and no path marks the grant as having changed nothing.
        const sentEarlier = g.changeSentAt !== undefined;
        // A retry of a `failed` or `cancelled` grant is active again from here.
        g = await onRace(async () => {
          const cur = (await ledger.getGrant(req.grantId)) ?? g;
          return ledger.updateGrant(cur, { changeSentAt: new Date(now()).toISOString(), ...((cur.state === 'failed' || cur.state === 'cancelled') && { state: 'pending' as const }) });
        });
        let kept;
        try {
          kept = await kind.grant(ctx, req, before);
        } catch (err) {
          // Refused, or AWS said FAILED (or the kind undid all of it): AWS is as it was,
          // unless an earlier attempt's change may still be in flight.
          if (isUnchanged(err) && !sentEarlier) {
            await releaseHolder(ledger, accessKey, req.grantId);
            await markUnchanged(ledger, req.grantId, accessKey, g, 'failed', job.jobId, err, true);
            throw err;
          }
          // Any other failure after the change was sent leaves its outcome unknown: AWS may
          // have applied it or may still. Read it back; absent is no proof (an asynchronous
          // change may finish later), so the grant then stays `pending` and keeps holding
          // the access: a retry finishes it, a revoke or the sweeper (at expiry) removes it.
          const after = await kind.describe(ctx, req).catch(() => undefined);
          if (!after?.present) {
            const e = err instanceof ConnectorError && err.code === 'ACCESS_TIMEOUT' ? err : new ConnectorError(
              'ACCESS_UNCONFIRMED',
              `${kind.name}: the change was sent to AWS but its outcome is unknown (${err instanceof Error ? err.message.slice(0, 500) : String(err)}); the grant stays pending and holds the access: send the grant again (same grantId) or revoke it`,
              { cause: err },
            );
            await ledger.appendEvent(req.grantId, 'unconfirmed', { jobId: job.jobId, detail: e.message });
            job.log.warn({ event: 'grant.unconfirmed', grantId: req.grantId, accessKind: req.accessKind, code: e.code }, e.message);
            throw e;
          }
          // In place after all. What the kind saw before the change stays (previous boundary…).
          kept = { ...(after.observed ?? {}), ...access.kept };
          note = 'AWS did not confirm the change, but the access is in place';
        }
        if (kept) access = await ledger.putAccess(access, { ...access, kept: { ...access.kept, ...kept } });
      } else {
        note = 'already granted';
        if (kind.extend) {
          const kept = await uninterruptible(() => kind.extend!(ctx, req, access!.kept));
          if (kept) access = await ledger.putAccess(access, { ...access, kept: { ...access.kept, ...kept } });
        }
      }
    }
    // The first grant time stays: re-sending a grant must not push a rotation deadline out.
    const grantedAt = g.grantedAt !== undefined ? Date.parse(g.grantedAt) : now();
    const deadline = deadlineOf(kind, req, job.integration, grantedAt);
    g = await onRace(async () => {
      const cur = (await ledger.getGrant(req.grantId)) ?? g;
      return ledger.updateGrant(cur, {
        state: 'granted', preExisting: access!.preExisting, grantedAt: new Date(grantedAt).toISOString(),
        ...(deadline !== undefined && { expiresAt: deadline }),
      });
    });
    await ledger.appendEvent(req.grantId, 'granted', { jobId: job.jobId, ...(note !== undefined && { detail: note }) });
    // A grant that found its access in place changed nothing in AWS: the audit line says so.
    job.log.info(
      { audit: true, event: 'access.granted', grantId: req.grantId, accessKind: req.accessKind, preExisting: g.preExisting, changed: note === undefined },
      `granted ${req.accessKind} (${req.grantId})${note === undefined ? '' : `: nothing changed (${note})`}`,
    );
    return {
      grantId: req.grantId, state: 'granted', accessDetails: detailsOf(kind, ctx, req), preExisting: g.preExisting,
      ...(note !== undefined && { note }),
    } satisfies AccessOutput;
    });
    }, job.signal);
  } catch (err) {
    // Cancelled or LEDGER_BUSY while waiting for the lock: nothing was done, and the
    // `pending` record written above must not stay behind.
    if (!locked) await uninterruptible(() => markUnchanged(ledger, req.grantId, accessKey, record!, job.signal.aborted ? 'cancelled' : 'failed', job.jobId, err)).catch(() => undefined);
    throw err;
  }
}

function revokingError(grantId: string): ConnectorError {
  return new ConnectorError('GRANT_REVOKING', `grant ${grantId} is being revoked (a revoke started and has not finished); it is never granted again: send the revoke again or let the sweeper finish it, and use a new grantId for new access`);
}

// -------------------------------------------------------------------------------------
// Revoke

export interface RevokeJob extends AccessJob {
  origin: RevokeOrigin;
  /**
   * A revoke for expiry names the grant version its (eventually consistent) scan read: it
   * goes ahead only if the grant is still at that version and its deadline has passed,
   * read again under the lock, so an extension that landed meanwhile is never undone.
   */
  scannedVersion?: number;
}

/** A revoke for expiry found, under the lock, that the grant was extended or changed since the scan. */
export class RevokeNotDue extends Error {
  constructor(grantId: string, why: string) {
    super(`grant ${grantId} is not due for revoke: ${why}`);
    this.name = 'RevokeNotDue';
  }
}

export async function runRevoke(deps: AccessDeps, job: RevokeJob): Promise<AccessOutput> {
  const ledger = requireLedger(deps.ledger);
  const now = deps.now ?? Date.now;
  const asked = job.request;
  let record = await ledger.getGrant(asked.grantId);

  if (!record) {
    // A revoke before its grant: leave a tombstone, so the grant (if it still comes) ends
    // revoked instead of creating access nobody will remove.
    const kind = kindOf(asked.accessKind);
    const made = await ledger.createGrant({
      grantId: asked.grantId, kind: asked.accessKind, accessKey: kind.accessKey(asked), lockKey: kind.lockKey?.(asked) ?? kind.accessKey(asked),
      fingerprint: fingerprintOf(asked), request: asked, integration: job.integration, state: 'revoked', preExisting: false,
      revokedAt: new Date(now()).toISOString(),
    });
    if (made.created) {
      await ledger.appendEvent(asked.grantId, 'revoked-before-grant', { jobId: job.jobId });
      const ctx = contextFor(deps, job.integration, job.signal, job.log);
      return { grantId: asked.grantId, state: 'revoked', accessDetails: revokedDetailsOf(kind, ctx, asked), preExisting: false, note: 'no grant was recorded under this grantId; nothing was removed' };
    }
    record = made.record;
  }

  // The ledger is the truth about what was granted and through which integration: a
  // revoke acts on the recorded request. A revoke job must name the same access, and the
  // policy admits what the ledger says is revoked, not what the job says.
  if (job.origin === 'job') refuseOtherAccess(deps, asked, job.integration, record, now());
  const req = record.request;
  const kind = kindOf(record.kind);
  const integration = record.integration;
  const ctx = contextFor(deps, integration, job.signal, job.log);
  if (record.state === 'revoked') {
    return { grantId: req.grantId, state: 'revoked', accessDetails: revokedDetailsOf(kind, ctx, req), preExisting: record.preExisting, note: 'already revoked' };
  }

  const result = await ledger.withLock(record.lockKey, async () => {
    let g = (await ledger.getGrant(req.grantId))!;
    if (g.state === 'revoked') return { notes: ['already revoked'], heldBy: 0, preExisting: g.preExisting };
    // A revoke that stopped midway (`revoking`) is finished whatever its deadline and
    // version: its intent is already recorded and no grant may resume it.
    if (job.scannedVersion !== undefined && g.state !== 'revoking') {
      if (g.version !== job.scannedVersion) throw new RevokeNotDue(req.grantId, `changed since the sweep read it (version ${job.scannedVersion} → ${g.version})`);
      if (g.expiresAt === undefined || Date.parse(g.expiresAt) > now()) throw new RevokeNotDue(req.grantId, `its deadline ${g.expiresAt ?? '(none)'} is ahead`);
    }
    job.signal.throwIfAborted(); // nothing changed yet: a cancel leaves AWS as it was
    // From here on the revoke finishes, even if cancelled.
    return uninterruptible(async () => {
    g = await onRace(async () => {
      const cur = (await ledger.getGrant(req.grantId))!;
      return cur.state === 'revoking' ? cur : ledger.updateGrant(cur, { state: 'revoking' });
    });
    const notes: string[] = [];
    let heldBy = 0;
    let removed = false;
    let preExisting = g.preExisting;
    const access = await ledger.getAccess(record!.accessKey);
    const others = (access?.holders ?? []).filter((h) => h !== req.grantId);
    if (!access?.holders.includes(req.grantId)) {
      // This grant never got as far as holding the access (cancelled, failed, or revoked
      // before it was granted): there is nothing of ours to remove.
      notes.push('this grant never held the access; nothing was removed');
    } else if (others.length > 0) {
      // Overlapping grants: another active grant still needs the access.
      await ledger.putAccess(access, { ...access, holders: others });
      heldBy = others.length;
      notes.push(`access kept: ${others.length} other active grant(s) still hold it`);
    } else if (access.preExisting) {
      await ledger.deleteAccess(access);
      preExisting = true;
      notes.push('access existed before the grant and was left in place');
    } else {
      const r = await kind.revoke(ctx, req, access.kept);
      if (r?.notes) notes.push(...r.notes);
      await ledger.deleteAccess(access);
      removed = true;
    }
    const revokedAt = now();
    let cleanupAt: string | undefined;
    if (kind.cleanup && removed) {
      if (integration.userCleanupAfterDays === 0) {
        try {
          await kind.cleanup(ctx, req, access!.kept);
          notes.push('cleaned up at revoke (userCleanupAfterDays is 0)');
        } catch (err) {
          // The access is gone; what is left is locked. The sweeper retries the clean-up.
          cleanupAt = new Date(revokedAt).toISOString();
          notes.push(`clean-up failed (${err instanceof Error ? err.message.slice(0, 200) : 'error'}); the sweeper retries it`);
        }
      } else {
        cleanupAt = new Date(revokedAt + integration.userCleanupAfterDays * 86_400_000).toISOString();
        notes.push(`removal scheduled for ${cleanupAt} (userCleanupAfterDays)`);
      }
    }
    await onRace(async () => {
      const cur = (await ledger.getGrant(req.grantId))!;
      return ledger.updateGrant(cur, {
        state: 'revoked', revokedAt: new Date(revokedAt).toISOString(), preExisting,
        ...(cleanupAt !== undefined ? { cleanupAt } : kind.cleanup && removed ? { cleanedAt: new Date(revokedAt).toISOString() } : {}),
      });
    });
    await ledger.appendEvent(req.grantId, `revoked:${job.origin}`, { jobId: job.jobId, ...(notes.length > 0 && { detail: notes.join('; ') }) });
    job.log.info({ audit: true, event: 'access.revoked', grantId: req.grantId, accessKind: req.accessKind, origin: job.origin, heldBy, preExisting }, `revoked ${req.accessKind} (${req.grantId})`);
    return { notes, heldBy, preExisting, grantedAt: g.grantedAt };
    });
  }, job.signal);

  const out: AccessOutput = {
    grantId: req.grantId, state: 'revoked', accessDetails: revokedDetailsOf(kind, ctx, req), preExisting: result.preExisting,
    ...(result.notes.length > 0 && { note: result.notes.join('; ') }),
    ...(result.heldBy > 0 && { heldBy: result.heldBy }),
  };
  if (integration.enableAudit && 'grantedAt' in result && result.grantedAt) {
    const who = auditIdentity(req);
    if (who) out.audit = await auditOf(ctx, integration, who, new Date(result.grantedAt), new Date(now()));
  }
  return out;
}

/** A revoke job naming other access than the ledger's record is invalid; the policy is checked against the record. */
function refuseOtherAccess(deps: AccessDeps, asked: AccessRequest, integration: Integration, record: GrantRecord, at: number): void {
  const differs = [
    asked.accessKind !== record.kind && `access kind ${asked.accessKind} (recorded: ${record.kind})`,
    integration.id !== record.integration.id && `integration ${integration.id} (recorded: ${record.integration.id})`,
    asked.accessKind === record.kind && kindOf(asked.accessKind).accessKey(asked) !== record.accessKey && 'other access (principal or target) than the grant',
  ].filter((d): d is string => typeof d === 'string');
  if (differs.length > 0) {
    throw new ConnectorError('JOB_PARAMS_INVALID', `revoke of grant ${record.grantId} names ${differs.join(', ')}; a revoke must name the grant as it was granted`);
  }
  const v = admitAccess(deps.config.policy, { jobType: 'revoke', integration: record.integration, request: record.request, now: at });
  if (!v.ok) throw new ConnectorError('POLICY_DENIED', `policy rule ${v.rule}: ${v.message}`);
}

/**
 * Records that a grant job ended without changing AWS. A `pending` grant that may hold
 * access (a change sent by an earlier attempt, a holder entry) stays `pending`, unless this
 * job learnt that its own change was not applied (`sentNotApplied`).
 */
async function markUnchanged(ledger: Ledger, grantId: string, accessKey: string, fallback: GrantRecord, state: 'failed' | 'cancelled', jobId: string, err: unknown, sentNotApplied = false): Promise<void> {
  const marked = await onRace(async () => {
    const cur = (await ledger.getGrant(grantId)) ?? fallback;
    if (cur.state !== 'pending') return false;
    if (!sentNotApplied && (cur.changeSentAt !== undefined || (await ledger.getAccess(accessKey))?.holders.includes(grantId))) return false;
    await ledger.updateGrant(cur, { state, changeSentAt: undefined });
    return true;
  });
  const detail = err instanceof Error ? err.message : String(err);
  await ledger.appendEvent(grantId, marked ? state : `attempt-${state}`, { jobId, detail });
}

/** Drops a grant from an access record it was added to before a change that then failed. */
async function releaseHolder(ledger: Ledger, accessKey: string, grantId: string): Promise<void> {
  await onRace(async () => {
    const a = await ledger.getAccess(accessKey);
    if (!a?.holders.includes(grantId)) return;
    const rest = a.holders.filter((h) => h !== grantId);
    if (rest.length === 0 && !a.preExisting) await ledger.deleteAccess(a);
    else await ledger.putAccess(a, { ...a, holders: rest });
  });
}

/** Whose CloudTrail events belong to the grant: the user name AWS records for sessions under it. */
/** The revoke's audit; like auditEvents, it never throws: a failure is an error code with no events. */
async function auditOf(ctx: AccessContext, integration: Integration, who: NonNullable<ReturnType<typeof auditIdentity>>, start: Date, end: Date): Promise<AuditResult> {
  if (who.accountId !== 'management') return auditEvents(ctx, { accountId: who.accountId, region: integration.region, username: who.username, start, end });
  // sso.user's own use is signing in to Identity Center: recorded in the management account,
  // in Identity Center's region. Only those sources: an IAM user or role session of the same
  // name in the management account is not the grant's user.
  let accountId: string;
  try {
    accountId = (await ctx.session.managementIdentity()).accountId;
  } catch (err) {
    return { events: [], truncated: false, error: toJobError(err).code };
  }
  return auditEvents(ctx, { accountId, region: integration.ssoRegion ?? integration.region, username: who.username, start, end, asManagement: true, eventSources: SSO_USER_AUDIT_SOURCES });
}
const SSO_USER_AUDIT_SOURCES = ['signin.amazonaws.com', 'sso.amazonaws.com', 'identitystore.amazonaws.com'] as const;

/**
 * The account and CloudTrail user name whose events a revoke's audit lists, or undefined
 * when no user name stands for the grant (docs/access.md, "Audit"). `management` stands
 * for the management account, known only once the session is.
 */
export function auditIdentity(req: AccessRequest): { accountId: string | 'management'; username: string } | undefined {
  const t = req.target as Record<string, unknown>;
  const arnAccount = (arn: unknown) => (typeof arn === 'string' ? arn.split(':')[4] : undefined);
  switch (req.accessKind) {
    case 'sso.accountAssignment':
    case 'ec2.ssmSession': {
      // Identity Center records the user's user name as the role session name.
      const username = req.principal.type === 'user' ? req.principal.userName ?? req.principal.email : undefined;
      return username && typeof t.accountId === 'string' ? { accountId: t.accountId, username } : undefined;
    }
    case 'iam.roleAssume': {
      const account = arnAccount(t.roleArn);
      return account ? { accountId: account, username: roleSessionNameFor(req.principal.id) } : undefined;
    }
    case 'sso.user':
      // principal.id is the user name the grant created or found.
      return { accountId: 'management', username: req.principal.id };
    case 'iam.policyAttachment':
    case 'iam.groupMembership':
    case 'iam.permissionsBoundary': {
      // A group is not a CloudTrail user name: its members act under their own.
      if (req.principal.type === 'group') return undefined;
      const account = arnAccount(req.principal.id);
      const name = req.principal.id.split('/').pop();
      return account && name ? { accountId: account, username: name } : undefined;
    }
    default:
      return undefined;
  }
}
