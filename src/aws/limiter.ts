// Token buckets, one per key (account × family [× region]). A caller waits for a token
// instead of being throttled by AWS; waiting honours the job's AbortSignal.

interface Bucket {
  tokens: number;
  last: number;
  queue: Array<{ resolve: () => void; reject: (e: unknown) => void; signal?: AbortSignal; onAbort?: () => void }>;
  timer?: NodeJS.Timeout;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** Waits for one token of `key` at `rate` per second (burst: one second of rate). */
  acquire(key: string, rate: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: Math.max(1, rate), last: Date.now(), queue: [] };
      this.buckets.set(key, b);
    }
    this.refill(b, rate);
    if (b.queue.length === 0 && b.tokens >= 1) {
      b.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Bucket['queue'][number] = { resolve, reject, ...(signal !== undefined && { signal }) };
      if (signal) {
        waiter.onAbort = () => {
          const i = b.queue.indexOf(waiter);
          if (i >= 0) b.queue.splice(i, 1);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      b.queue.push(waiter);
      this.schedule(b, rate);
    });
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
