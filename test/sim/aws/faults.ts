// Fault injection: throttle storms, 5xx, held requests, denied accounts, expired sessions,
// latency. Each fault may be limited to a service and a duration.
import type { ServiceName } from './errors.js';

export interface FaultScope { service?: ServiceName; operation?: string; account?: string; durationMs?: number }
interface Active extends FaultScope { until?: number; fraction: number }

export interface FaultHooks {
  now(): number;
  expireSessions(at: number, includeBase: boolean): number;
  setSessionLifetimeCap(ms: number | undefined): void;
}

export class Faults {
  private throttles: Active[] = [];
  private errors: (Active & { code: 'InternalFailure' | 'ServiceUnavailable' })[] = [];
  private holds: (Active & { holdMs: number })[] = [];
  private lost: (Active & { left: number })[] = [];
  private gates: { scope: FaultScope & { match?: string }; arrived: () => void; opened: Promise<void> }[] = [];
  readonly deniedAccounts = new Set<string>();
  latencyMs: number;
  readonly serviceLatencyMs: Partial<Record<ServiceName, number>> = {};
  rand: () => number = Math.random;

  constructor(private readonly hooks: FaultHooks, latencyMs: number) { this.latencyMs = latencyMs; }

  private active<T extends Active>(f: FaultScope & { fraction?: number }, extra: Omit<T, keyof Active>): T {
    const until = f.durationMs !== undefined ? this.hooks.now() + f.durationMs : undefined;
    return { ...f, ...extra, fraction: f.fraction ?? 1, ...(until !== undefined ? { until } : {}) } as T;
  }

  /** A fraction of matching calls answer with the service's real throttling error. */
  throttleStorm(f: FaultScope & { fraction?: number } = {}): void { this.throttles.push(this.active(f, {})); }
  /** A fraction of matching calls answer 500 InternalFailure or 503 ServiceUnavailable. */
  serverErrors(f: FaultScope & { fraction?: number; code?: 'InternalFailure' | 'ServiceUnavailable' } = {}): void {
    this.errors.push(this.active(f, { code: f.code ?? 'InternalFailure' }));
  }
  /** Hold matching requests `holdMs` before answering (clients with shorter timeouts give up). */
  timeouts(f: FaultScope & { fraction?: number; holdMs: number }): void { this.holds.push(this.active(f, { holdMs: f.holdMs })); }
  /**
   * The next `count` matching calls (default 1) are carried out, then answered 500
   * InternalFailure, as when the response is lost on the way back: the SDK sends the same
   * request again, and the caller must recognize its own earlier write.
   */
  lostResponses(f: FaultScope & { count?: number } = {}): void { this.lost.push(this.active(f, { left: f.count ?? 1 })); }
  /**
   * In-process only: the next matching call (whose request body contains `match`, when
   * given) waits before it is carried out until `release()`. `reached` resolves when it
   * arrives, so a test orders two callers exactly, without sleeping.
   */
  gate(f: FaultScope & { match?: string } = {}): { reached: Promise<void>; release(): void } {
    let arrived!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((r) => (arrived = r));
    const opened = new Promise<void>((r) => (release = r));
    this.gates.push({ scope: f, arrived, opened });
    return { reached, release };
  }
  denyAccount(accountId: string): void { this.deniedAccounts.add(accountId); }
  allowAccount(accountId: string): void { this.deniedAccounts.delete(accountId); }
  /** Every session issued so far stops working now (the base identity only if asked). */
  expireSessionsNow(opts: { includeBase?: boolean } = {}): number { return this.hooks.expireSessions(this.hooks.now(), !!opts.includeBase); }
  /** Sessions issued so far expire in `seconds`; later ones live at most `seconds`. */
  expireSessionsAfter(seconds: number): number {
    this.hooks.setSessionLifetimeCap(seconds * 1000);
    return this.hooks.expireSessions(this.hooks.now() + seconds * 1000, false);
  }
  setLatency(ms: number, service?: ServiceName): void {
    if (service) this.serviceLatencyMs[service] = ms; else this.latencyMs = ms;
  }
  clear(): void {
    this.throttles = []; this.errors = []; this.holds = []; this.lost = [];
    for (const g of this.gates.splice(0)) g.arrived();
    this.deniedAccounts.clear();
    this.hooks.setSessionLifetimeCap(undefined);
  }

  private hit(list: Active[], service: ServiceName, op: string, account: string): Active | undefined {
    const now = this.hooks.now();
    for (const f of list) {
      if (f.until !== undefined && now > f.until) continue;
      if (f.service && f.service !== service) continue;
      if (f.operation && f.operation !== op) continue;
      if (f.account && f.account !== account) continue;
      if (f.fraction >= 1 || this.rand() < f.fraction) return f;
    }
    return undefined;
  }

  shouldThrottle(s: ServiceName, op: string, account: string): boolean { return !!this.hit(this.throttles, s, op, account); }
  serverError(s: ServiceName, op: string, account: string): 'InternalFailure' | 'ServiceUnavailable' | undefined {
    return (this.hit(this.errors, s, op, account) as { code?: 'InternalFailure' | 'ServiceUnavailable' } | undefined)?.code;
  }
  holdMs(s: ServiceName, op: string, account: string): number {
    return (this.hit(this.holds, s, op, account) as { holdMs?: number } | undefined)?.holdMs ?? 0;
  }
  /** Whether this call's answer is lost (the call itself is carried out). */
  loseResponse(s: ServiceName, op: string, account: string): boolean {
    const f = this.hit(this.lost.filter((l) => l.left > 0), s, op, account) as (Active & { left: number }) | undefined;
    if (f) f.left--;
    return !!f;
  }
  /** Waits at the first gate this call matches (each gate stops one call). */
  async passGate(s: ServiceName, op: string, account: string, body: string): Promise<void> {
    const i = this.gates.findIndex(({ scope: f }) => (!f.service || f.service === s) && (!f.operation || f.operation === op) &&
      (!f.account || f.account === account) && (!f.match || body.includes(f.match)));
    if (i < 0) return;
    const [g] = this.gates.splice(i, 1);
    g!.arrived();
    await g!.opened;
  }
  latencyFor(s: ServiceName): number { return this.serviceLatencyMs[s] ?? this.latencyMs; }

  describe(): Record<string, unknown> {
    return { throttles: this.throttles, errors: this.errors, holds: this.holds, lostResponses: this.lost, gates: this.gates.length, deniedAccounts: [...this.deniedAccounts],
      latencyMs: this.latencyMs, serviceLatencyMs: this.serviceLatencyMs };
  }
}
