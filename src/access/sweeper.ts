// The sweeper: revokes grants whose time is up, with or without a control plane, and
// finishes the delayed clean-ups revoke scheduled. It reads only the ledger, so a restart
// loses nothing, and it is safe to run in every replica: each revoke takes the ledger lock
// and re-reads the grant, so the second replica to get there finds it already revoked.
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
    const { runRevoke } = await import('./run-access.js');
    // On shutdown, finish the revokes in hand and leave the rest to the next start.
    while (next < due.length && !stopping()) {
      const g = due[next++]!;
      const jobId = `${select === 'all' ? 'kill-switch' : 'sweeper'}-${g.grantId}`;
      try {
        const out = await runRevoke(deps, { jobId, integration: g.integration, request: g.request, signal: never, log, origin: select === 'all' ? 'kill-switch' : 'expiry' });
        // Another replica's sweep (or a revoke job) may have got there first: not ours to count.
        if (out.note !== 'already revoked') result.revoked++;
      } catch (err) {
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
  for await (const a of ledger.accesses()) {
    if (a.holders.some((h) => active.has(h))) continue;
    if (a.preExisting && a.holders.length === 0) continue;
    result.orphans++;
    log.warn(
      { event: 'ledger.orphan', accessKey: a.accessKey, accessKind: a.kind, holders: a.holders },
      `the ledger holds ${a.kind} access that no active grant explains (holders: ${a.holders.join(', ') || 'none'}); revoke it with the grant id, or remove it by hand`,
    );
  }
  if (result.revoked + result.cleaned + result.failed + result.orphans > 0 || select === 'all') {
    log.info({ event: 'grant.sweep', ...result, select }, `sweep: ${result.revoked} revoked, ${result.cleaned} cleaned up, ${result.failed} failed, ${result.orphans} orphaned`);
  }
  return { result, ...(nextDueAt !== undefined && { nextDueAt }) };
}

/**
 * Runs sweepOnce every `intervalMs` until stopped, one pass at a time, and sooner when a
 * deadline it read falls before the next pass: an expiry is met when it falls, not up to a
 * whole interval (plus the pass) later.
 */
export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(private readonly deps: AccessDeps, private readonly log: Logger, private readonly intervalMs: number) {}

  start(): void {
    const now = this.deps.now ?? Date.now;
    const tick = () => {
      let wait = this.intervalMs;
      this.running = sweepPass(this.deps, this.log, 'expired', () => this.timer === undefined)
        .then((r) => {
          if (r.nextDueAt !== undefined) wait = Math.max(0, Math.min(wait, r.nextDueAt - now()));
        })
        .catch((err: unknown) => {
          const e = toJobError(err);
          this.log.error({ event: 'grant.sweep_failed', code: e.code }, `grant sweep failed: ${e.message}`);
        })
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.timer = setTimeout(tick, wait);
        });
    };
    // The first pass right away: a restart must not wait an interval to revoke what expired while it was down.
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    const t = this.timer;
    this.timer = undefined;
    if (t) clearTimeout(t);
    await this.running;
  }
}
