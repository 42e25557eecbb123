// Whatever a peer sends, the decode → dispatch path answers it and never throws
// (docs/protocol.md "Frames": "Nothing a peer sends crashes the connector").
import fc from 'fast-check';
import { decodeFrame } from '../../src/protocol/codec.js';
import { testConfig } from '../helpers/config.js';
import { controllableHandler, makeDispatcher } from '../helpers/dispatcher.js';

const validJob = () => ({
  type: 'job',
  id: 'f',
  jobId: 'job-fuzz',
  jobType: 'slow',
  attempt: 1,
  notAfter: new Date(Date.now() + 600_000).toISOString(),
  integration: { id: 'i', name: 'n', type: 'aws-account', region: 'us-east-1' },
  params: {},
});

const frameTypes = fc.constantFrom('job', 'job.cancel', 'ack', 'error', 'welcome', 'hello', 'sync.batch', 'x', '', 'JOB');

/** A valid job with one field replaced by anything, or removed. */
const mutatedJob = fc
  .tuple(fc.constantFrom(...Object.keys(validJob())), fc.option(fc.anything({ maxDepth: 3 }), { nil: undefined }), fc.string())
  .map(([key, value, jobId]) => {
    const j: Record<string, unknown> = { ...validJob(), jobId: `job-${jobId.replace(/[^A-Za-z0-9]/g, '').slice(0, 20) || 'x'}` };
    if (value === undefined) delete j[key];
    else j[key] = value;
    return j;
  });

const randomObject = fc.record({ type: frameTypes, id: fc.oneof(fc.uuid(), fc.string(), fc.integer()) }, { requiredKeys: ['type'] }).chain((base) =>
  fc.dictionary(fc.string({ maxLength: 12 }), fc.anything({ maxDepth: 4 }), { maxKeys: 6 }).map((extra) => ({ ...extra, ...base })),
);

const payload = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.anything({ maxDepth: 5 }).map((v) => JSON.stringify(v) ?? 'undefined'),
  randomObject.map((o) => JSON.stringify(o)),
  mutatedJob.map((o) => JSON.stringify(o)),
  fc.integer({ min: 1, max: 400 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
);

describe('fuzzed frames', () => {
  test('10,000 random frames: no throw, every answered frame is a protocol answer, memory stays bounded', async () => {
    const { dispatcher, sent } = makeDispatcher(testConfig({ MAX_CONCURRENT_JOBS: '64' }), [controllableHandler('slow')]);
    const heapBefore = process.memoryUsage().heapUsed;
    let cases = 0;
    fc.assert(
      fc.property(payload, fc.boolean(), (text, binary) => {
        cases++;
        const decoded = decodeFrame(Buffer.from(text, 'utf8'), binary && text.length % 7 === 0);
        if (!decoded.ok) {
          expect(decoded.error.type).toBe('error');
          expect(decoded.error.code).toMatch(/^FRAME_/);
          return;
        }
        expect(() => dispatcher.handle(decoded.raw, decoded.type)).not.toThrow();
      }),
      { numRuns: 10_000, seed: 42 },
    );
    expect(cases).toBe(10_000);
    for (const f of sent) expect(['error', 'job.accepted', 'job.rejected', 'job.result', 'job.progress']).toContain(f.type);
    await new Promise((r) => setTimeout(r, 50));
    (globalThis as { gc?: () => void }).gc?.();
    const grownMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    expect(grownMb).toBeLessThan(200);
  });

  test('oversized, binary and deeply nested frames get specific error codes', () => {
    expect(decodeFrame(Buffer.alloc(1024 * 1024 + 1, 0x20), false)).toMatchObject({ ok: false, error: { code: 'FRAME_TOO_LARGE' } });
    expect(decodeFrame(Buffer.from('{}'), true)).toMatchObject({ ok: false, error: { code: 'FRAME_NOT_TEXT' } });
    expect(decodeFrame(Buffer.from('{"a":'.repeat(100) + '1' + '}'.repeat(100)), false)).toMatchObject({ ok: false, error: { code: 'FRAME_TOO_DEEP' } });
    expect(decodeFrame(Buffer.from('[1]'), false)).toMatchObject({ ok: false, error: { code: 'FRAME_NOT_OBJECT' } });
    expect(decodeFrame(Buffer.from('{"id":"x"}'), false)).toMatchObject({ ok: false, error: { code: 'FRAME_INVALID', refId: 'x' } });
  });
});
