// The rate limiter makes one bucket per account × family × region; a sync of a large
// organization makes tens of thousands, and the daemon outlives the sync.
import { jest } from '@jest/globals';
import { RateLimiter } from '../../src/aws/limiter.js';

test('idle buckets back at their burst are forgotten; busy ones are kept', async () => {
  const limiter = new RateLimiter();
  // A slow bucket that is still waiting to refill must survive the sweeps.
  await limiter.acquire('slow', 0.5);
  for (let i = 0; i < 3000; i++) await limiter.acquire(`acct-${i}`, 1000);
  await new Promise((r) => setTimeout(r, 20));
  for (let i = 3000; i < 4200; i++) await limiter.acquire(`acct-${i}`, 1000);
  expect(limiter.size).toBeLessThan(1300);
  // The slow bucket was kept: its second token is not there yet.
  const t0 = Date.now();
  await limiter.acquire('slow', 0.5);
  expect(Date.now() - t0).toBeGreaterThan(500);
});

describe('callers asking first', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** Takes a token of `org` at 4 a second (burst 4), recording who got it in `order`. */
  const taker = (limiter: RateLimiter, order: string[]) => (name: string, first = false, signal?: AbortSignal) =>
    limiter.acquire('org', 4, signal, first).then(() => order.push(name), () => order.push(`${name} aborted`));

  test('wait behind the first callers already waiting and at most one other', async () => {
    const limiter = new RateLimiter();
    const order: string[] = [];
    const take = taker(limiter, order);
    // The burst is spent, then six wait (all in one go: no time passes between them).
    for (let i = 0; i < 4; i++) void limiter.acquire('org', 4);
    const all = Promise.all([take('n1'), take('n2'), take('f1', true), take('n3'), take('f2', true), take('n4')]);
    await jest.advanceTimersByTimeAsync(2_000);
    await all;
    expect(order).toEqual(['n1', 'f1', 'f2', 'n2', 'n3', 'n4']);
  });

  test('one that asks again as soon as it is answered gets every other token, and the others go on', async () => {
    const limiter = new RateLimiter();
    const order: string[] = [];
    const take = taker(limiter, order);
    for (let i = 0; i < 4; i++) void limiter.acquire('org', 4);
    const others = Promise.all(['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => take(n)));
    const lister = (async () => {
      for (let i = 1; i <= 3; i++) await take(`L${i}`, true);
    })();
    await jest.advanceTimersByTimeAsync(3_000);
    await Promise.all([others, lister]);
    expect(order).toEqual(['n1', 'L1', 'n2', 'L2', 'n3', 'L3', 'n4', 'n5']);
  });

  test('one aborted while waiting leaves the others in their order', async () => {
    const limiter = new RateLimiter();
    const order: string[] = [];
    const take = taker(limiter, order);
    for (let i = 0; i < 4; i++) void limiter.acquire('org', 4);
    const ac = new AbortController();
    const all = Promise.all([take('n1'), take('f1', true, ac.signal), take('n2'), take('f2', true)]);
    ac.abort(new Error('cancelled'));
    await jest.advanceTimersByTimeAsync(2_000);
    await all;
    // f2 went in behind f1 and n1; with f1 gone it is second, and the aborted one took no token.
    expect(order).toEqual(['f1 aborted', 'n1', 'f2', 'n2']);
  });
});
