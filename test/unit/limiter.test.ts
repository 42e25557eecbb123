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
