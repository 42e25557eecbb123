// Token buckets, one per key (account × family [× region]). A caller waits for a token
// instead of being throttled by AWS; waiting honours the job's AbortSignal.

interface Bucket {
  tokens: number;
  last: number;
  /** Waiters in the order they get tokens (see acquire's `first`). */
  queue: Array<{ resolve: () => void; reject: (e: unknown) => void; signal?: AbortSignal; onAbort?: () => void; first?: boolean }>;
  timer?: NodeJS.Timeout;
  /** The rate of its last acquire, to tell when it is full again. */
  rate: number;
}

/** Buckets made between two sweeps of idle ones. */
const SWEEP_EVERY = 1024;

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private made = 0;

  /**
   * Waits for one token of `key` at `rate` per second (burst: one second of rate).
   *
   * A `first` caller waits behind the `first` callers already waiting and at most one other:
   * a caller that asks again as soon as it is answered gets every other token while others
   * wait, not all of them, so the others (another job's calls among them) are slowed by
   * half at most and never stopped. The bucket's rate is unchanged, only who gets a token.
   */
  acquire(key: string, rate: number, signal?: AbortSignal, first = false): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let b = this.buckets.get(key);
    if (!b) {
      // A sync makes buckets per account and region, tens of thousands in a large
      // organization, and the process outlives it: forget the idle ones now and then.
      if (++this.made % SWEEP_EVERY === 0) this.sweep();
      b = { tokens: Math.max(1, rate), last: Date.now(), queue: [], rate };
      this.buckets.set(key, b);
    }
    b.rate = rate;
    this.refill(b, rate);
    if (b.queue.length === 0 && b.tokens >= 1) {
      b.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Bucket['queue'][number] = { resolve, reject, ...(signal !== undefined && { signal }), ...(first && { first }) };
      if (signal) {
        waiter.onAbort = () => {
          const i = b.queue.indexOf(waiter);
          if (i >= 0) b.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      if (first) {
        // Past the `first` waiters (few: one per caller that asks it) and one other.
        let i = 0;
        let others = 0;
        while (i < b.queue.length && (b.queue[i]!.first || others++ < 1)) i++;
        b.queue.splice(i, 0, waiter);
      } else b.queue.push(waiter);
      this.schedule(b, rate);
    });
  }

  /**
   * Drops every bucket that nobody waits on and that has refilled to its burst: it is then
   * the same as the fresh bucket its next acquire would make.
   */
  private sweep(): void {
    const now = Date.now();
    for (const [key, b] of this.buckets) {
      const max = Math.max(1, b.rate);
      if (b.queue.length === 0 && !b.timer && b.tokens + ((now - b.last) / 1000) * b.rate >= max) this.buckets.delete(key);
    }
  }

  /** Buckets held (for tests). */
  get size(): number {
    return this.buckets.size;
  }

  private refill(b: Bucket, rate: number): void {
    const now = Date.now();
    b.tokens = Math.min(Math.max(1, rate), b.tokens + ((now - b.last) / 1000) * rate);
    b.last = now;
  }

  private schedule(b: Bucket, rate: number): void {
    if (b.timer) return;
    const wait = Math.max(1, Math.ceil(((1 - b.tokens) / rate) * 1000));
    b.timer = setTimeout(() => {
      b.timer = undefined;
      this.refill(b, rate);
      while (b.queue.length > 0 && b.tokens >= 1) {
        const w = b.queue.shift()!;
        b.tokens -= 1;
        if (w.signal && w.onAbort) w.signal.removeEventListener('abort', w.onAbort);
        w.resolve();
      }
      if (b.queue.length > 0) this.schedule(b, rate);
    }, wait);
  }
}
