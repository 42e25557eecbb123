// docs/protocol.md "Frames" and "Delivery" rules end to end: real connector process, reference control plane.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import fc from 'fast-check';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';
import { REPO_ROOT } from '../helpers/paths.js';

const vectors = JSON.parse(readFileSync(resolve(REPO_ROOT, 'test/vectors/job-signing.json'), 'utf8')) as {
  publicKeyPem: string;
  privateKeyPem: string;
  valid: { frame: Record<string, unknown> };
};
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});
async function setup(cpOpts: Parameters<typeof ReferenceControlPlane.start>[0] = {}, env: Record<string, string> = {}) {
  const cp = await ReferenceControlPlane.start(cpOpts);
  cleanup.push(() => cp.close());
  const c = new ConnectorProcess(connectorEnv(cp.url, env));
  cleanup.push(() => c.stop());
  await cp.waitForSession();
  return { cp, c };
}
const rejection = async (cp: ReferenceControlPlane, jobId: string) =>
  (await cp.waitFor((f) => f.frame?.['type'] === 'job.rejected' && f.frame['jobId'] === jobId)).frame!;

describe('jobs over the wire', () => {
  test('a job runs and its result arrives; a duplicate after completion gets the same result frame id', async () => {
    const { cp } = await setup();
    const { jobId, frame } = cp.sendJob({ jobType: 'test.sleep', params: { ms: 10, batches: 2 } });
    const result = await cp.waitForResult(jobId);
    expect(result).toMatchObject({ status: 'succeeded', output: { slept: 10, batches: 2 } });
    cp.sendJob({ ...(frame as { jobType: string }), id: 'redelivered-frame' });
    const dupes = await cp.waitFor((f) => f.frame?.['type'] === 'job.result' && f.frame['jobId'] === jobId && f.raw !== undefined && cp.received.filter((r) => r.frame?.['id'] === result.id).length === 2);
    expect(dupes.frame!['id']).toBe(result.id);
    expect(cp.job(jobId)!.batches.size).toBe(2);
    expect(cp.violations).toEqual([]);
  });

  test('unsupported and invalid jobs are rejected with reasons', async () => {
    const { cp } = await setup();
    const unknown = cp.sendJob({ jobType: 'frobnicate' });
    expect(await rejection(cp, unknown.jobId)).toMatchObject({ reason: 'unsupported', message: 'job type "frobnicate" is not supported by this connector' });
    const bad = cp.sendJob({ jobType: 'test.sleep', params: { ms: 'soon' } });
    expect(await rejection(cp, bad.jobId)).toMatchObject({ reason: 'invalid', message: expect.stringContaining('params.ms') });
    const expired = cp.sendJob({ jobType: 'test.sleep', notAfter: new Date(Date.now() - 60_000).toISOString() });
    expect(await rejection(cp, expired.jobId)).toMatchObject({ reason: 'expired' });
  });

  test('busy once running and queue slots are full; queued jobs run when a slot frees', async () => {
    const { cp } = await setup({}, { MAX_CONCURRENT_JOBS: '1' });
    const a = cp.sendJob({ jobType: 'test.sleep', params: { ms: 400 } });
    const b = cp.sendJob({ jobType: 'test.sleep', params: { ms: 10 } });
    const c = cp.sendJob({ jobType: 'test.sleep', params: { ms: 10 } });
    expect(await rejection(cp, c.jobId)).toMatchObject({ reason: 'busy' });
    const ra = await cp.waitForResult(a.jobId);
    const rb = await cp.waitForResult(b.jobId);
    expect([ra.status, rb.status]).toEqual(['succeeded', 'succeeded']);
    const aDone = cp.job(a.jobId)!.resultAt!;
    expect(cp.job(b.jobId)!.resultAt!).toBeGreaterThanOrEqual(aDone);
  });

  test('job.cancel aborts a running job: cancelled, retryable', async () => {
    const { cp } = await setup();
    const { jobId } = cp.sendJob({ jobType: 'test.sleep', params: { ms: 60_000, undoMs: 50 } });
    await cp.waitFor((f) => f.frame?.['type'] === 'job.accepted' && f.frame['jobId'] === jobId);
    cp.cancelJob(jobId);
    const r = await cp.waitForResult(jobId);
    expect(r).toMatchObject({ status: 'cancelled', output: { undone: true }, error: { code: 'JOB_CANCELLED', retryable: true } });
  });

  test('a slow control plane: the window holds a streaming job until acks arrive', async () => {
    const { cp } = await setup({ window: 4, autoAck: false });
    const { jobId } = cp.sendJob({ jobType: 'test.sleep', params: { batches: 30, entitiesPerBatch: 1 } });
    // The window's 4 arrive (however slowly), then nothing more while none is acked.
    await cp.waitFor((f) => f.frame?.['type'] === 'sync.batch' && f.frame['jobId'] === jobId && f.frame['seq'] === 3, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(cp.job(jobId)!.batches.size).toBe(4);
    cp.setAutoAck(true);
    cp.ackAll();
    const r = await cp.waitForResult(jobId);
    expect(r.status).toBe('succeeded');
    expect(cp.job(jobId)!.batches.size).toBe(30);
  });
});

describe('signed jobs', () => {
  test('signed jobs run; unsigned, tampered, misaddressed and expired ones are rejected', async () => {
    const { cp, c } = await setup({ signingKey: { privateKeyPem: vectors.privateKeyPem } }, { CONTROL_PLANE_JOB_PUBLIC_KEY: vectors.publicKeyPem });
    const ok = cp.sendJob({ jobType: 'test.sleep', params: { ms: 1 } });
    expect((await cp.waitForResult(ok.jobId)).status).toBe('succeeded');
    const unsigned = cp.sendJob({ jobType: 'test.sleep' }, { sign: false });
    expect(await rejection(cp, unsigned.jobId)).toMatchObject({ reason: 'signature', message: 'signature missing' });
    const misaddressed = cp.sendJob({ jobType: 'test.sleep', connectorId: 'someone-else' });
    expect(await rejection(cp, misaddressed.jobId)).toMatchObject({ reason: 'signature' });
    const tooFar = cp.sendJob({ jobType: 'test.sleep', notAfter: new Date(Date.now() + 3600_000).toISOString() });
    expect(await rejection(cp, tooFar.jobId)).toMatchObject({ reason: 'signature', message: expect.stringMatching(/15 minutes/) });
    const expired = cp.sendJob({ jobType: 'test.sleep', notAfter: new Date(Date.now() - 120_000).toISOString() });
    expect(await rejection(cp, expired.jobId)).toMatchObject({ reason: 'expired' });
    // Tampered: a signed frame whose params are changed after signing.
    const signed = cp.sendJob({ jobType: 'test.sleep', params: { ms: 1 } }, { raw: false });
    await cp.waitForResult(signed.jobId);
    cp.sendJob({ ...(signed.frame as { jobType: string }), jobId: 'tampered-1', params: { ms: 2 } }, { raw: true, sign: false });
    expect(await rejection(cp, 'tampered-1')).toMatchObject({ reason: 'signature' });
    // Replay of a finished signed job: the stored result, nothing runs again.
    cp.sendJob({ ...(signed.frame as { jobType: string }), id: 'replay' }, { raw: true, sign: false });
    await cp.waitFor((f) => f.frame?.['type'] === 'job.result' && f.frame['jobId'] === signed.jobId && cp.received.filter((r) => r.frame?.['type'] === 'job.result' && r.frame['jobId'] === signed.jobId).length === 2);
    expect(c.logs().filter((e) => e['event'] === 'job.start' && e['jobId'] === signed.jobId)).toHaveLength(1);
  });
});

describe('hostile frames over the socket', () => {
  test('1,000 fuzzed frames: the connector stays up, answers each invalid one, and still runs jobs', async () => {
    const { cp, c } = await setup();
    const samples = fc.sample(
      fc.oneof(
        fc.string({ maxLength: 100 }),
        fc.anything({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'),
        fc.record({ type: fc.constantFrom('job', 'ack', 'job.cancel', 'error', 'welcome', 'nope'), id: fc.string(), jobId: fc.string(), params: fc.anything() }).map((o) => JSON.stringify(o)),
      ),
      { numRuns: 1000, seed: 7 },
    );
    for (const s of samples) cp.sendRaw(s);
    cp.sendRaw(Buffer.from([0xff, 0x00, 0x13]), { binary: true });
    cp.sendRaw('x'.repeat(1024 * 1024 + 10));
    const { jobId } = cp.sendJob({ jobType: 'test.sleep', params: { ms: 1 } });
    expect((await cp.waitForResult(jobId, 20_000)).status).toBe('succeeded');
    const errors = cp.received.filter((f) => f.frame?.['type'] === 'error');
    expect(errors.some((f) => f.frame!['code'] === 'FRAME_TOO_LARGE')).toBe(true);
    expect(errors.some((f) => f.frame!['code'] === 'FRAME_NOT_TEXT')).toBe(true);
    expect(c.child.exitCode).toBeNull();
    // One session throughout: no hostile frame made the connector drop the connection.
    expect(new Set(cp.received.map((f) => f.sessionId)).size).toBe(1);
    expect(cp.violations).toEqual([]);
  }, 30_000);
});
