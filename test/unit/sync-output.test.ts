// Regression: a sync whose coverage and errors outgrow one frame used to produce a result
// that could not be sent (and broke the outbox resend).
import { buildOutput, type CoverageEntry, type SyncError } from '../../src/sync/run-sync.js';
import { integrationSchema, MAX_FRAME_BYTES } from '../../src/protocol/messages.js';

test('the sync output stays under one frame, keeping failed and skipped units first', () => {
  const coverage: CoverageEntry[] = [];
  const errors: SyncError[] = [];
  for (let a = 0; a < 600; a++) {
    const accountId = String(100000000000 + a);
    for (let r = 0; r < 20; r++) {
      const region = `xx-test-${r}`;
      coverage.push({ accountId, source: 'ec2', region, status: r < 15 ? 'failed' : r < 18 ? 'skipped' : 'complete' });
      if (r < 15) errors.push({ accountId, source: 'ec2', region, code: 'AWS_ACCESS_DENIED', message: 'x'.repeat(300) });
    }
  }
  const integration = integrationSchema.parse({ id: 'i', name: 'n', type: 'aws-organization', region: 'us-east-1' });
  const out = buildOutput({ mode: 'full' }, { integration, partition: 'aws', managementAccountId: '1', accounts: [], regions: [] }, {}, coverage, errors, [], 'c');
  expect(Buffer.byteLength(JSON.stringify(out))).toBeLessThan(MAX_FRAME_BYTES - 64 * 1024);
  const kept = out['coverage'] as CoverageEntry[];
  expect(kept.every((c) => c.status !== 'complete')).toBe(true); // no room left after the failures
  expect(kept[0]!.status).toBe('failed');
  const t = out['coverageTruncated'] as { omitted: Record<string, number>; errorsOmitted: number };
  expect(kept.length + t.omitted['complete']! + t.omitted['failed']! + t.omitted['skipped']!).toBe(coverage.length);
  expect(t.errorsOmitted).toBe(errors.length - 100);
});

test('coverage read entry by entry gives the same output as the whole list, holding only what fits', () => {
  // 70,000 units (a 10,000-account organization): a list that makes each entry on demand,
  // as runSync passes it, and counts how many entries it made.
  const n = 70_000;
  const at = (i: number): CoverageEntry => ({ accountId: String(100000000000 + Math.floor(i / 7)), source: ['organizations', 'sso', 'iam', 'ec2', 'resources', 'x', 'y'][i % 7]!, region: 'us-east-1', status: i % 997 === 0 ? 'failed' : i % 101 === 0 ? 'skipped' : 'complete' });
  const whole = Array.from({ length: n }, (_, i) => at(i));
  let made = 0;
  const lazy = { length: n, status: (i: number) => at(i).status, entry: (i: number) => (made++, at(i)) };
  const integration = integrationSchema.parse({ id: 'i', name: 'n', type: 'aws-organization', region: 'us-east-1' });
  const plan = { integration, partition: 'aws' as const, managementAccountId: '1', accounts: [], regions: [] };
  const fromWhole = buildOutput({ mode: 'full' }, plan, {}, whole, [], [], 'c');
  const fromLazy = buildOutput({ mode: 'full' }, plan, {}, lazy, [], [], 'c');
  expect(JSON.stringify(fromLazy)).toBe(JSON.stringify(fromWhole));
  const kept = fromLazy['coverage'] as CoverageEntry[];
  expect(kept.length).toBeGreaterThan(1000);
  expect(kept.length).toBeLessThan(n);
  expect(kept.filter((c) => c.status === 'failed')).toHaveLength(Math.floor((n - 1) / 997) + 1);
  // Each entry is made at most twice: once while sizing, once when kept or counted as omitted.
  expect(made).toBeLessThanOrEqual(2 * n);
  // Small enough to fit: every entry, in order.
  const small = buildOutput({ mode: 'full' }, plan, {}, { length: 50, status: (i) => at(i).status, entry: at }, [], [], 'c');
  expect(small['coverage']).toEqual(whole.slice(0, 50));
  expect(small['coverageTruncated']).toBeUndefined();
});
