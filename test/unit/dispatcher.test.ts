// Admission and execution rules of docs/protocol.md ("Delivery"), on the real Dispatcher.
import { testConfig } from '../helpers/config.js';
import { controllableHandler, makeDispatcher } from '../helpers/dispatcher.js';
import type { JobContext, JobHandler } from '../../src/jobs/types.js';

const integration = { id: 'int-1', name: 'org', type: 'aws-organization', region: 'us-east-1' };
let n = 0;
function job(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'job',
    id: `frame-${++n}`,
    jobId: `job-${n}`,
    jobType: 'slow',
    attempt: 1,
    notAfter: new Date(Date.now() + 600_000).toISOString(),
    integration,
    params: {},
    ...over,
  };
}

/** A job that runs until released or aborted. */
function gate() {
  const releases = new Map<string, () => void>();
  const started: string[] = [];
  const handler = controllableHandler('slow', (ctx: JobContext<Record<string, unknown>>) => {
    started.push(ctx.jobId);
    return new Promise((resolve, reject) => {
      releases.set(ctx.jobId, () => resolve({ output: { done: ctx.jobId } }));
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
    });
  });
  return { handler, releases, started };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('dispatcher admission', () => {
  test('MAX_CONCURRENT_JOBS run, as many again queue, then busy (not stored)', async () => {
    const g = gate();
    const { dispatcher, sent } = makeDispatcher(testConfig({ MAX_CONCURRENT_JOBS: '2' }), [g.handler]);
    const jobs = Array.from({ length: 5 }, () => job());
    for (const j of jobs) dispatcher.handle(j, 'job');
    await tick();
    expect(g.started).toEqual(['job-1', 'job-2'].map((_, i) => jobs[i]!['jobId']));
    const answers = sent.filter((f) => f.type === 'job.accepted' || f.type === 'job.rejected');
    expect(answers.map((f) => f.type)).toEqual(['job.accepted', 'job.accepted', 'job.accepted', 'job.accepted', 'job.rejected']);
    expect(answers[4]).toMatchObject({ reason: 'busy' });
    // busy is not stored: once there is room, the same jobId is accepted.
    g.releases.get(jobs[0]!['jobId'] as string)!();
    await tick();
    dispatcher.handle({ ...jobs[4]!, id: 'again' }, 'job');
    expect(sent.at(-1)).toMatchObject({ type: 'job.accepted', jobId: jobs[4]!['jobId'] });
  });

  test('duplicates: queued or running → accepted again; finished → the stored result with the same id', async () => {
    const g = gate();
    const { dispatcher, sent } = makeDispatcher(testConfig({ MAX_CONCURRENT_JOBS: '1' }), [g.handler]);
    const running = job();
    const queued = job();
    dispatcher.handle(running, 'job');
    dispatcher.handle(queued, 'job');
    await tick();
    sent.length = 0;
    dispatcher.handle({ ...running, id: 'dup-1' }, 'job');
    dispatcher.handle({ ...queued, id: 'dup-2' }, 'job');
    expect(sent).toMatchObject([
      { type: 'job.accepted', jobId: running['jobId'] },
      { type: 'job.accepted', jobId: queued['jobId'] },
    ]);
    expect(g.started).toEqual([running['jobId']]); // nothing ran twice
    g.releases.get(running['jobId'] as string)!();
    await tick();
    const result = sent.find((f) => f.type === 'job.result' && f.jobId === running['jobId'])!;
    expect(result).toMatchObject({ status: 'succeeded', output: { done: running['jobId'] } });
    sent.length = 0;
    dispatcher.handle({ ...running, id: 'dup-3' }, 'job');
    expect(sent).toEqual([result]);
    expect(g.started.filter((j) => j === running['jobId'])).toHaveLength(1);
  });

  test('notAfter is checked on receipt (±30 s) and again at start (JOB_EXPIRED)', async () => {
    const g = gate();
    let now = Date.now();
    const { dispatcher, sent } = makeDispatcher(testConfig({ MAX_CONCURRENT_JOBS: '1' }), [g.handler], () => now);
    dispatcher.handle(job({ notAfter: new Date(now - 20_000).toISOString() }), 'job'); // within skew
    dispatcher.handle(job({ notAfter: new Date(now - 31_000).toISOString() }), 'job');
    const waiting = job({ notAfter: new Date(now + 60_000).toISOString() });
    dispatcher.handle(waiting, 'job');
    expect(sent.map((f) => f.type === 'job.rejected' ? f.reason : f.type)).toEqual(['job.accepted', 'expired', 'job.accepted']);
    now += 120_000; // the queued job expires while the first one runs
    g.releases.get(g.started[0]!)!();
    await tick();
    expect(sent.find((f) => f.type === 'job.result' && f.jobId === waiting['jobId'])).toMatchObject({
      status: 'failed',
      error: { code: 'JOB_EXPIRED', retryable: false },
    });
    expect(g.started).toHaveLength(1);
  });

  test('unsupported job type, invalid frame fields and invalid params are rejected and stored', () => {
    const { dispatcher, sent } = makeDispatcher(testConfig(), [controllableHandler('slow')]);
    dispatcher.handle(job({ jobType: 'sync' }), 'job');
    dispatcher.handle(job({ integration: { ...integration, roleArn: 'not-an-arn' } }), 'job');
    dispatcher.handle(job({ notAfter: 'tomorrow' }), 'job');
    expect(sent.map((f) => (f.type === 'job.rejected' ? [f.reason, f.message] : f.type))).toEqual([
      ['unsupported', 'job type "sync" is not supported by this connector'],
      ['invalid', expect.stringContaining('integration.roleArn')],
      ['invalid', expect.stringContaining('notAfter')],
    ]);
    const first = sent[0]!;
    dispatcher.handle(job({ jobType: 'sync', jobId: (first as { jobId: string }).jobId }), 'job');
    expect(sent.at(-1)).toEqual(first);
  });

  test('a job frame without a usable jobId is answered with error, not a rejection', () => {
    const { dispatcher, sent } = makeDispatcher(testConfig(), [controllableHandler('slow')]);
    dispatcher.handle(job({ jobId: 'has space' }), 'job');
    dispatcher.handle(job({ jobId: 42 }), 'job');
    expect(sent.map((f) => f.type)).toEqual(['error', 'error']);
  });

  test('job.cancel: a queued job ends cancelled at once; a running job is aborted', async () => {
    const g = gate();
    const { dispatcher, sent } = makeDispatcher(testConfig({ MAX_CONCURRENT_JOBS: '1' }), [g.handler]);
    const a = job();
    const b = job();
    dispatcher.handle(a, 'job');
    dispatcher.handle(b, 'job');
    await tick();
    dispatcher.handle({ type: 'job.cancel', id: 'c1', jobId: b['jobId'] }, 'job.cancel');
    expect(sent.at(-1)).toMatchObject({ type: 'job.result', jobId: b['jobId'], status: 'cancelled', error: { code: 'JOB_CANCELLED', retryable: true } });
    dispatcher.handle({ type: 'job.cancel', id: 'c2', jobId: a['jobId'] }, 'job.cancel');
    await tick();
    expect(sent.at(-1)).toMatchObject({ type: 'job.result', jobId: a['jobId'], status: 'cancelled' });
    expect(g.started).toEqual([a['jobId']]);
  });

  test('a job type loaded on its first job: frames received while it loads are handled after it, in order', async () => {
    const g = gate();
    let loads = 0;
    let finishLoad!: () => void;
    const lazy = { jobType: 'slow', load: () => new Promise<JobHandler>((resolve) => { loads++; finishLoad = () => resolve(g.handler as JobHandler); }) };
    const { dispatcher, sent } = makeDispatcher(testConfig({ MAX_CONCURRENT_JOBS: '1' }), [lazy]);
    const a = job();
    const b = job();
    dispatcher.handle(a, 'job');
    dispatcher.handle(b, 'job');
    dispatcher.handle({ type: 'job.cancel', id: 'c1', jobId: b['jobId'] }, 'job.cancel');
    await tick();
    expect(sent).toEqual([]);
    finishLoad();
    await tick();
    expect(loads).toBe(1);
    expect(sent.map((f) => [f.type, (f as { jobId?: string }).jobId])).toEqual([
      ['job.accepted', a['jobId']],
      ['job.accepted', b['jobId']],
      ['job.result', b['jobId']],
    ]);
    expect(sent.at(-1)).toMatchObject({ status: 'cancelled' });
    expect(g.started).toEqual([a['jobId']]);
    // Loaded once: the next job of the type is answered at once, without loading again.
    const c = job();
    dispatcher.handle(c, 'job');
    expect(sent.at(-1)).toMatchObject({ jobId: c['jobId'] });
    expect(loads).toBe(1);
  });

  test('drain: new jobs get draining (not stored), queued ones are cancelled, running ones finish within grace', async () => {
    const g = gate();
    const { dispatcher, sent } = makeDispatcher(testConfig({ MAX_CONCURRENT_JOBS: '1' }), [g.handler]);
    const a = job();
    const b = job();
    dispatcher.handle(a, 'job');
    dispatcher.handle(b, 'job');
    await tick();
    const drained = dispatcher.drain(2000);
    const c = job();
    dispatcher.handle(c, 'job');
    expect(sent.find((f) => f.type === 'job.result' && f.jobId === b['jobId'])).toMatchObject({ status: 'cancelled' });
    expect(sent.at(-1)).toMatchObject({ type: 'job.rejected', jobId: c['jobId'], reason: 'draining' });
    setTimeout(() => g.releases.get(a['jobId'] as string)!(), 50);
    await drained;
    expect(sent.find((f) => f.type === 'job.result' && f.jobId === a['jobId'])).toMatchObject({ status: 'succeeded' });
  });

  test('drain past the grace period cancels running jobs as retryable', async () => {
    const g = gate();
    const { dispatcher, sent } = makeDispatcher(testConfig(), [g.handler]);
    const a = job();
    dispatcher.handle(a, 'job');
    await tick();
    const t0 = Date.now();
    await dispatcher.drain(100);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(sent.at(-1)).toMatchObject({ type: 'job.result', jobId: a['jobId'], status: 'cancelled', error: { code: 'JOB_CANCELLED', retryable: true } });
  });

  test('a job that ignores its abort is reported SHUTDOWN_INTERRUPTED after the settle time', async () => {
    const stubborn = controllableHandler('slow', () => new Promise(() => {}));
    const { dispatcher, sent } = makeDispatcher(testConfig(), [stubborn]);
    dispatcher.handle(job(), 'job');
    await tick();
    await dispatcher.drain(50);
    expect(sent.at(-1)).toMatchObject({ type: 'job.result', status: 'failed', error: { code: 'SHUTDOWN_INTERRUPTED', retryable: true } });
  });

  test('a failing handler yields failed with a code; batches wait for the window', async () => {
    const { dispatcher, sent, outbox } = makeDispatcher(testConfig(), [
      controllableHandler('slow', async (ctx) => {
        for (let i = 0; i < 3; i++) await ctx.emitBatch([], `c${i}`);
        throw Object.assign(new Error('boom'), { code: 'X' });
      }),
    ]);
    outbox.setWindow(2);
    dispatcher.handle(job(), 'job');
    await tick();
    expect(sent.filter((f) => f.type === 'sync.batch')).toHaveLength(2); // third waits
    outbox.ack(sent.filter((f) => f.type === 'sync.batch').map((f) => f.id));
    await tick();
    expect(sent.filter((f) => f.type === 'sync.batch').map((f) => (f as { seq: number }).seq)).toEqual([0, 1, 2]);
    expect(sent.at(-1)).toMatchObject({ type: 'job.result', status: 'failed', error: { code: 'JOB_HANDLER_FAILED', retryable: true } });
  });

  // Regression: finished jobs were never forgotten below 100,000 entries, so stored results grew forever.
  test('finished jobs are remembered for 24 h, then forgotten', async () => {
    let now = Date.now();
    const { dispatcher, sent } = makeDispatcher(testConfig(), [controllableHandler('slow')], () => now);
    const a = job();
    dispatcher.handle(a, 'job');
    await tick();
    const result = sent.find((f) => f.type === 'job.result')!;
    now += 23 * 3600_000;
    dispatcher.handle({ ...a, id: 'dup', notAfter: new Date(now + 600_000).toISOString() }, 'job');
    expect(sent.at(-1)).toEqual(result);
    now += 3 * 3600_000;
    dispatcher.handle(job(), 'job'); // any admission may prune
    await tick();
    dispatcher.handle({ ...a, id: 'dup-2', notAfter: new Date(now + 600_000).toISOString() }, 'job');
    expect(sent.at(-1)).toMatchObject({ type: 'job.accepted', jobId: a['jobId'] });
  });
});
