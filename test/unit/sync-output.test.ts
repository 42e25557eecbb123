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
