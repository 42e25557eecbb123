// The sweeper: revokes grants whose time is up, with or without a control plane, and
// finishes the delayed clean-ups revoke scheduled. It reads only the ledger, so a restart
// loses nothing, and it is safe to run in every replica: each revoke takes the ledger lock
// and re-reads the grant, so the second replica to get there finds it already revoked, and
// a grant extended after the scan (a newer version, a later deadline) is left alone.
import type { Logger } from '../log.js';
import { ACTIVE_STATES, type GrantRecord } from './ledger.js';
import type { AccessDeps } from './run-access.js';
import { toJobError } from '../errors.js';
import { uninterruptible } from '../aws/clients.js';

export interface SweepResult {
  revoked: number;
  cleaned: number;
  failed: number;
  /** Access created by the connector that no active grant explains (reconciliation). */
  orphans: number;
}

/** Expired grants revoked at once: many grants often share one expiry time. */
const SWEEP_CONCURRENCY = 8;

export type SweepSelection = 'expired' | 'all';

/**
 * One pass. `expired` (the daemon and `revoke --expired`): grants past their deadline;
 * `all` (the kill switch `revoke --all`): every active grant.
 */
export async function sweepOnce(deps: AccessDeps, log: Logger, select: SweepSelection = 'expired', stopping: () => boolean = () => false): Promise<SweepResult> {
  return (await sweepPass(deps, log, select, stopping)).result;
}

/** One pass, and the earliest deadline (expiry or clean-up) still ahead when the ledger was read. */
async function sweepPass(deps: AccessDeps, log: Logger, select: SweepSelection, stopping: () => boolean): Promise<{ result: SweepResult; nextDueAt?: number }> {
  const ledger = deps.ledger!;
  const now = deps.now ?? Date.now;
  const result: SweepResult = { revoked: 0, cleaned: 0, failed: 0, orphans: 0 };
  const due: GrantRecord[] = [];
  const cleanups: GrantRecord[] = [];
  const active = new Set<string>();
  const readAt = now();
  let nextDueAt: number | undefined;
  const ahead = (t: number) => {
    if (t > readAt && (nextDueAt === undefined || t < nextDueAt)) nextDueAt = t;
  };
  for await (const g of ledger.grants()) {
    const live = ACTIVE_STATES.includes(g.state);
    if (live) active.add(g.grantId);
    // A revoke that stopped midway (`revoking`) is finished whatever the expiry: no grant may resume it.
    if (live && (select === 'all' || g.state === 'revoking' || (g.expiresAt !== undefined && Date.parse(g.expiresAt) <= readAt))) due.push(g);
    else if (live && g.expiresAt !== undefined) ahead(Date.parse(g.expiresAt));
    if (g.state === 'revoked' && g.cleanupAt !== undefined && g.cleanedAt === undefined) {
      if (Date.parse(g.cleanupAt) <= readAt) cleanups.push(g);
      else ahead(Date.parse(g.cleanupAt));
    }
  }
  const never = new AbortController().signal;
  let next = 0;
  const revokeDue = async () => {
    // The runner and the access kinds (and their AWS SDK clients) load with the first
    // grant due: an idle sweeper reads the ledger only.
    const { runRevoke, RevokeNotDue } = await import('./run-access.js');
    // On shutdown, finish the revokes in hand and leave the rest to the next start.
    while (next < due.length && !stopping()) {
      const g = due[next++]!;
      const jobId = `${select === 'all' ? 'kill-switch' : 'sweeper'}-${g.grantId}`;
      try {
        const out = await runRevoke(deps, {
          jobId, integration: g.integration, request: g.request, signal: never, log,
          ...(select === 'all' ? { origin: 'kill-switch' as const } : { origin: 'expiry' as const, scannedVersion: g.version }),
        });
        // Another replica's sweep (or a revoke job) may have got there first: not ours to count.
        if (out.note !== 'already revoked') result.revoked++;
      } catch (err) {
        if (err instanceof RevokeNotDue) {
          // Extended (or otherwise changed) since the scan: the next pass reads it afresh.
          log.debug({ grantId: g.grantId }, err.message);
          continue;
        }
        result.failed++;
        const e = toJobError(err);
        log.error({ event: 'grant.sweep_failed', grantId: g.grantId, accessKind: g.kind, code: e.code }, `could not revoke expired grant ${g.grantId}: ${e.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SWEEP_CONCURRENCY, due.length) }, revokeDue));
  for (const g of cleanups) {
    if (stopping()) break;
    try {
      const [{ kindOf }, { contextFor }] = await Promise.all([import('./registry.js'), import('./run-access.js')]);
      const kind = kindOf(g.kind);
      const ctx = contextFor(deps, g.integration, new AbortController().signal, log);
      await ledger.withLock(g.lockKey, async () => {
        const cur = await ledger.getGrant(g.grantId);
        if (!cur || cur.cleanedAt !== undefined) return;
        await uninterruptible(() => kind.cleanup!(ctx, cur.request, {}));
        await ledger.updateGrant(cur, { cleanedAt: new Date(now()).toISOString() });
        await ledger.appendEvent(g.grantId, 'cleaned-up', { jobId: 'sweeper' });
      });
      result.cleaned++;
    } catch (err) {
      result.failed++;
      const e = toJobError(err);
      log.error({ event: 'grant.sweep_failed', grantId: g.grantId, accessKind: g.kind, code: e.code }, `could not clean up after grant ${g.grantId}: ${e.message}`);
    }
  }
  // Reconciliation: access the connector created that no active grant holds any more.
  // Its failure must not lose the report of the revokes this pass has already made.
  try {
    for await (const a of ledger.accesses()) {
      if (a.holders.some((h) => active.has(h))) continue;
      if (a.preExisting && a.holders.length === 0) continue;
      result.orphans++;
      log.warn(
        { event: 'ledger.orphan', accessKey: a.accessKey, accessKind: a.kind, holders: a.holders },
        `the ledger holds ${a.kind} access that no active grant explains (holders: ${a.holders.join(', ') || 'none'}); revoke it with the grant id, or remove it by hand`,
      );
    }
  } catch (err) {
    result.failed++;
    const e = toJobError(err);
    log.error({ event: 'grant.sweep_failed', code: e.code }, `reconciliation failed: ${e.message}`);
  }
  if (result.revoked + result.cleaned + result.failed + result.orphans > 0 || select === 'all') {
    log.info({ event: 'grant.sweep', ...result, select }, `sweep: ${result.revoked} revoked, ${result.cleaned} cleaned up, ${result.failed} failed, ${result.orphans} orphaned`);
  }
  return { result, ...(nextDueAt !== undefined && { nextDueAt }) };
}

/** Schedules `fn` in `ms`; returns the cancel. Tests pass one they fire themselves. */
export type Schedule = (fn: () => void, ms: number) => () => void;

const realSchedule: Schedule = (fn, ms) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/**
 * Runs sweepOnce every `intervalMs` until stopped, one pass at a time, and sooner when a
 * deadline falls before the next pass: one the last pass read, or one this process has
 * just recorded (a new grant or an extension, told by the ledger). An expiry is met when
 * it falls, not up to a whole interval (plus the pass) later. Other replicas learn of a
 * deadline at their next pass.
 */
export class Sweeper {
  private stopped = true;
  private cancel: (() => void) | undefined;
  /** When the armed pass runs (the deps' clock). */
  private dueAt: number | undefined;
  /** The earliest deadline recorded while a pass ran. */
  private noted: number | undefined;
  private unlisten: (() => void) | undefined;
  private running: Promise<unknown> | undefined;
  private readonly now: () => number;
  private readonly schedule: Schedule;

  constructor(private readonly deps: AccessDeps, private readonly log: Logger, private readonly intervalMs: number, opts: { schedule?: Schedule } = {}) {
    this.now = deps.now ?? Date.now;
    this.schedule = opts.schedule ?? realSchedule;
  }

  start(): void {
    this.stopped = false;
    this.unlisten = this.deps.ledger?.onDeadline((at) => this.wakeBy(at));
    // The first pass right away: a restart must not wait an interval to revoke what expired while it was down.
    this.arm(0);
  }

  /** Makes sure a pass runs no later than `at`. */
  private wakeBy(at: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.noted = Math.min(this.noted ?? at, at);
      return;
    }
    if (this.dueAt !== undefined && this.dueAt <= at) return;
    this.cancel?.();
    this.arm(Math.max(0, at - this.now()));
  }

  private arm(ms: number): void {
    this.dueAt = this.now() + ms;
    this.cancel = this.schedule(() => this.tick(), ms);
  }

  private tick(): void {
    this.cancel = undefined;
    this.dueAt = undefined;
    let wait = this.intervalMs;
    this.running = sweepPass(this.deps, this.log, 'expired', () => this.stopped)
      .then((r) => {
        if (r.nextDueAt !== undefined) wait = Math.min(wait, r.nextDueAt - this.now());
      })
      .catch((err: unknown) => {
        const e = toJobError(err);
        this.log.error({ event: 'grant.sweep_failed', code: e.code }, `grant sweep failed: ${e.message}`);
      })
      .finally(() => {
        this.running = undefined;
        if (this.noted !== undefined) wait = Math.min(wait, this.noted - this.now());
        this.noted = undefined;
        if (!this.stopped) this.arm(Math.max(0, wait));
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancel?.();
    this.cancel = undefined;
    this.unlisten?.();
    await this.running;
  }
}
