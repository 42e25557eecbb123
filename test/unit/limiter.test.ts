// The rate limiter makes one bucket per account × family × region; a sync of a large
// organization makes tens of thousands, and the daemon outlives the sync.
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

test('a caller asking first gets the next token ahead of those already waiting, behind earlier first callers', async () => {
  const limiter = new RateLimiter();
  const order: string[] = [];
  // 50 a second, burst 50: spend the burst, then queue.
  await Promise.all(Array.from({ length: 50 }, () => limiter.acquire('org', 50)));
  const take = (name: string, first = false) => limiter.acquire('org', 50, undefined, first).then(() => order.push(name));
  const all = [take('tag-1'), take('tag-2'), take('list-1', true), take('tag-3'), take('list-2', true), take('tag-4')];
  await Promise.all(all);
  expect(order).toEqual(['list-1', 'list-2', 'tag-1', 'tag-2', 'tag-3', 'tag-4']);
});

test('a first caller aborted while waiting leaves the others in order', async () => {
  const limiter = new RateLimiter();
  await limiter.acquire('org', 1);
  const order: string[] = [];
  const ac = new AbortController();
  const a = limiter.acquire('org', 20, ac.signal, true).then(() => order.push('aborted'), () => order.push('gone'));
  const b = limiter.acquire('org', 20).then(() => order.push('tag'));
  const c = limiter.acquire('org', 20, undefined, true).then(() => order.push('list'));
  ac.abort(new Error('cancelled'));
  await Promise.all([a, b, c]);
  expect(order).toEqual(['gone', 'list', 'tag']);
});
