// Call counters per service / operation / account, readable in-process and at /__sim/stats.
export interface Counter { calls: number; throttled: number; errors: number }

export interface StatsSnapshot {
  total: Counter;
  byService: Record<string, Counter>;
  byOperation: Record<string, Counter>; // "service:Operation"
  byAccount: Record<string, Counter>;
  byServiceAccount: Record<string, Counter>; // "service|account"
  /** Highest number of requests in flight at once. */
  maxInFlight: number;
  /** Distinct User-Agent headers seen (at most 20), so tests can check who called. */
  userAgents: string[];
}

export class Stats {
  private snap: StatsSnapshot = Stats.empty();
  inFlight = 0;

  private static empty(): StatsSnapshot {
    return { total: c(), byService: {}, byOperation: {}, byAccount: {}, byServiceAccount: {}, maxInFlight: 0, userAgents: [] };
  }

  record(service: string, op: string, account: string, outcome: 'ok' | 'throttled' | 'error'): void {
    const s = this.snap;
    for (const ctr of [s.total, get(s.byService, service), get(s.byOperation, `${service}:${op}`),
      get(s.byAccount, account), get(s.byServiceAccount, `${service}|${account}`)]) {
      ctr.calls++;
      if (outcome === 'throttled') ctr.throttled++;
      if (outcome === 'error') ctr.errors++;
    }
  }

  userAgent(ua: string | undefined): void {
    if (ua && this.snap.userAgents.length < 20 && !this.snap.userAgents.includes(ua)) this.snap.userAgents.push(ua);
  }
  enter(): void { this.inFlight++; if (this.inFlight > this.snap.maxInFlight) this.snap.maxInFlight = this.inFlight; }
  leave(): void { this.inFlight--; }

  snapshot(): StatsSnapshot { return structuredClone(this.snap); }
  reset(): void { this.snap = Stats.empty(); }
}

function c(): Counter { return { calls: 0, throttled: 0, errors: 0 }; }
function get(m: Record<string, Counter>, k: string): Counter { return (m[k] ??= c()); }
