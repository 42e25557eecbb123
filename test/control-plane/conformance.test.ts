import { MAX_FRAME_BYTES } from '../../src/protocol/messages.js';
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { FakeConnector, entity, sleep } from './client.js';

const isType = (t: string) => (f: Record<string, unknown>) => f['type'] === t;

describe('reference control plane: connector conformance checks', () => {
  let cp: ReferenceControlPlane;
  let c: FakeConnector;
  afterEach(async () => {
    c.close();
    await cp.close();
  });

  it('answers invalid JSON with error and records a violation', async () => {
    cp = await ReferenceControlPlane.start();
    c = await FakeConnector.welcomed(cp);
    c.ws.send('{"type":"job.accepted",');
    const err = await c.next(isType('error'));
    expect(err['code']).toBe('invalid_json');
    expect(err['refId']).toBeUndefined();
    expect(cp.violations).toEqual([expect.stringMatching(/not a JSON object/)]);
    expect(cp.received.at(-1)).toMatchObject({ raw: '{"type":"job.accepted",', frame: null });
  });

  it('answers a schema failure with error naming the frame id, and records it', async () => {
    cp = await ReferenceControlPlane.start();
    c = await FakeConnector.welcomed(cp);
    const id = c.send({ type: 'job.rejected', jobId: 'j', reason: 'bored', message: '' });
    const err = await c.next(isType('error'));
    expect(err).toMatchObject({ code: 'invalid_frame', refId: id });
    expect(cp.violations).toEqual([expect.stringMatching(/job.rejected fails the schema: reason/)]);
  });

  it('records binary frames, oversized frames, unknown types and a second hello', async () => {
    cp = await ReferenceControlPlane.start();
    c = await FakeConnector.welcomed(cp);
    c.ws.send(Buffer.from([1, 2, 3]));
    c.ws.send('x'.repeat(MAX_FRAME_BYTES + 1));
    c.send({ type: 'job.telemetry' });
    c.send({ type: 'hello', connectorId: 'conn-test', version: '1', protocol: 1, capabilities: { jobTypes: [], accessKinds: [], entityKinds: [] }, maxConcurrentJobs: 1, running: [] });
    await cp.waitFor((f) => f.frame?.['type'] === 'hello' && cp.received.indexOf(f) > 0);
    expect(cp.violations).toEqual([
      expect.stringMatching(/binary frame/),
      expect.stringMatching(/exceeds 1048576/),
      expect.stringMatching(/unknown frame type job.telemetry/),
      expect.stringMatching(/second hello/),
    ]);
  });

  it('records a hello whose connectorId differs from X-Connector-Id, and frames for a jobId never sent', async () => {
    cp = await ReferenceControlPlane.start();
    c = await FakeConnector.connect(cp, 'conn-header');
    c.send({ type: 'hello', connectorId: 'conn-body', version: '1', protocol: 1, capabilities: { jobTypes: [], accessKinds: [], entityKinds: [] }, maxConcurrentJobs: 1, running: [] });
    await c.next(isType('welcome'));
    c.send({ type: 'job.accepted', jobId: 'invented' });
    await cp.waitFor((f) => f.frame?.['type'] === 'job.accepted');
    expect(cp.violations).toEqual([
      expect.stringMatching(/differs from X-Connector-Id/),
      expect.stringMatching(/jobId invented, which was never sent/),
    ]);
  });

  it('records batch seq gaps, a seq resent with a new id, and a batch after the result', async () => {
    cp = await ReferenceControlPlane.start();
    c = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'sync' });
    c.send({ type: 'sync.batch', jobId, seq: 0, entities: [entity(0)] });
    c.send({ type: 'sync.batch', jobId, seq: 2, entities: [entity(2)] });
    c.send({ type: 'sync.batch', jobId, seq: 0, entities: [entity(0)] });
    c.send({ type: 'job.result', jobId, status: 'succeeded', stats: {} });
    c.send({ type: 'sync.batch', jobId, seq: 3, entities: [] });
    await cp.waitFor(() => cp.received.filter((f) => f.frame?.['type'] === 'sync.batch').length === 4);
    expect(cp.violations).toEqual([
      expect.stringMatching(/seq 2, expected 1/),
      expect.stringMatching(/seq 0 of .* sent again with a new id/),
      expect.stringMatching(/seq 3 of .* after its job.result/),
    ]);
  });

  it('records an id reused for different content, a reused non-acked id, and a second result id', async () => {
    cp = await ReferenceControlPlane.start();
    c = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'check' });
    c.send({ type: 'job.accepted', id: 'same', jobId });
    c.send({ type: 'job.result', id: 'same', jobId, status: 'failed', stats: {} });
    c.send({ type: 'job.progress', id: 'p', jobId, phase: 'a', done: 0 });
    c.send({ type: 'job.progress', id: 'p', jobId, phase: 'a', done: 0 });
    c.send({ type: 'job.result', id: 'r2', jobId, status: 'succeeded', stats: {} });
    await cp.waitFor((f) => f.frame?.['id'] === 'r2');
    expect(cp.violations).toEqual([
      expect.stringMatching(/job.result reuses id same with different content/),
      expect.stringMatching(/job.progress reuses id p/),
      expect.stringMatching(/second job.result .* new id/),
    ]);
  });

  it('records more unacked sync.batch of one job than the window allows', async () => {
    cp = await ReferenceControlPlane.start({ autoAck: false, window: 2 });
    c = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'sync' });
    for (let seq = 0; seq < 2; seq++) c.send({ type: 'sync.batch', jobId, seq, entities: [entity(seq)] });
    await cp.waitFor(() => cp.job(jobId)!.batches.size === 2);
    expect(cp.violations).toEqual([]);
    cp.ackAll();
    c.send({ type: 'sync.batch', jobId, seq: 2, entities: [] });
    c.send({ type: 'sync.batch', jobId, seq: 3, entities: [] });
    await cp.waitFor(() => cp.job(jobId)!.batches.size === 4);
    expect(cp.violations).toEqual([]);
    c.send({ type: 'sync.batch', jobId, seq: 4, entities: [] });
    await cp.waitFor(() => cp.job(jobId)!.batches.size === 5);
    expect(cp.violations).toEqual([expect.stringMatching(/3 unacked sync.batch .* window is 2/)]);
    await sleep(10);
  });
});
