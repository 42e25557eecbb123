import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { FakeConnector, entity, sleep } from './client.js';

const isType = (t: string) => (f: Record<string, unknown>) => f['type'] === t;
const acks = (c: FakeConnector) => c.frames.filter(isType('ack')).flatMap((f) => f['ids'] as string[]);

describe('reference control plane: delivery', () => {
  let cp: ReferenceControlPlane;
  afterEach(() => cp.close());

  it('sends a filled-in job to a welcomed session and records its life: accepted, batches, result', async () => {
    cp = await ReferenceControlPlane.start();
    const c = await FakeConnector.welcomed(cp, 'conn-a');
    const sent = cp.sendJob({ jobType: 'sync' });
    const job = await c.next(isType('job'));
    expect(job).toEqual(sent.frame);
    expect(job).toMatchObject({ jobId: sent.jobId, attempt: 1, params: { mode: 'full' }, integration: { type: 'aws-organization' } });
    const ahead = Date.parse(String(job['notAfter'])) - Date.now();
    expect(ahead).toBeGreaterThan(9 * 60_000);
    expect(ahead).toBeLessThanOrEqual(10 * 60_000);

    c.send({ type: 'job.accepted', jobId: sent.jobId });
    c.send({ type: 'sync.batch', jobId: sent.jobId, seq: 0, entities: [entity(1), entity(2)], cursor: 'c0' });
    c.send({ type: 'sync.batch', jobId: sent.jobId, seq: 1, entities: [entity(3)], cursor: 'c1' });
    c.send({ type: 'job.result', jobId: sent.jobId, status: 'succeeded', output: {}, stats: {} });
    const result = await cp.waitForResult(sent.jobId);
    expect(result.status).toBe('succeeded');
    const rec = cp.job(sent.jobId)!;
    expect(rec.accepted?.sessionId).toBe(cp.sessions()[0]!.sessionId);
    expect([...rec.batches.entries()].map(([seq, b]) => [seq, b.entities, b.cursor])).toEqual([[0, 2, 'c0'], [1, 1, 'c1']]);
    expect(cp.jobs()).toHaveLength(1);
    expect(cp.violations).toEqual([]);
    c.close();
  });

  it('keepBatchEntities: false records batches without their entities; onEvent still sees them, and a changed resend is still caught', async () => {
    const seen: string[] = [];
    cp = await ReferenceControlPlane.start({
      keepBatchEntities: false,
      onEvent: (ev) => {
        if (ev.kind === 'frame' && ev.direction === 'in' && ev.frame?.['type'] === 'sync.batch') seen.push(...(ev.frame['entities'] as Array<{ id: string }>).map((e) => e.id));
      },
    });
    const c = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'sync' });
    c.send({ type: 'sync.batch', id: 'b-0', jobId, seq: 0, entities: [entity(1), entity(2)], cursor: 'c0' });
    c.send({ type: 'sync.batch', id: 'b-0', jobId, seq: 0, entities: [entity(1)], cursor: 'c0' });
    c.send({ type: 'job.result', jobId, status: 'succeeded', output: {}, stats: {} });
    await cp.waitForResult(jobId);
    const batches = cp.received.filter((r) => r.frame?.['type'] === 'sync.batch');
    expect(batches).toHaveLength(2);
    for (const b of batches) {
      expect(b.raw).toBe('');
      expect(b.frame).toEqual({ type: 'sync.batch', id: 'b-0', jobId, seq: 0, cursor: 'c0' });
    }
    expect(seen).toEqual([entity(1).id, entity(2).id, entity(1).id]);
    expect([...cp.job(jobId)!.batches.values()].map((b) => b.entities)).toEqual([2]);
    expect(cp.violations).toEqual([expect.stringMatching(/sync\.batch reuses id b-0 with different content/)]);
    c.close();
  });

  it('throws when no session is live to take a job', async () => {
    cp = await ReferenceControlPlane.start();
    expect(() => cp.sendJob({ jobType: 'check' })).toThrow(/no live session/);
  });

  it('auto-acks every acked-type frame, a resent duplicate again, and never a lossy one', async () => {
    cp = await ReferenceControlPlane.start();
    const c = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'check' });
    const accepted = { type: 'job.accepted', id: 'acc-1', jobId };
    c.send(accepted);
    c.send({ type: 'job.progress', jobId, phase: 'identity', done: 1 });
    c.send(accepted);
    await c.next(() => acks(c).length === 2);
    await sleep(50);
    expect(acks(c)).toEqual(['acc-1', 'acc-1']);
    expect(cp.duplicates()).toBe(1);
    expect(cp.violations).toEqual([]);
    c.close();
  });

  it('with auto-ack off, acks nothing until ackAll, then exactly what is pending', async () => {
    cp = await ReferenceControlPlane.start({ autoAck: false });
    const c = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'check' });
    const a = c.send({ type: 'job.accepted', jobId });
    const r = c.send({ type: 'job.result', jobId, status: 'succeeded', stats: {} });
    await cp.waitForResult(jobId);
    await sleep(50);
    expect(acks(c)).toEqual([]);
    cp.ackAll();
    await c.next(isType('ack'));
    expect(acks(c)).toEqual([a, r]);
    cp.ackAll(); // nothing pending: no empty ack frame
    await sleep(50);
    expect(c.frames.filter(isType('ack'))).toHaveLength(1);
    c.close();
  });

  it('dropAckOnce loses the ack of one matching frame; its resend is acked', async () => {
    cp = await ReferenceControlPlane.start();
    const c = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'sync' });
    cp.dropAckOnce((f) => f['type'] === 'sync.batch' && f['seq'] === 1);
    const batch = (seq: number) => ({ type: 'sync.batch', id: `b-${seq}`, jobId, seq, entities: [entity(seq)] });
    c.send(batch(0));
    c.send(batch(1));
    c.send(batch(2));
    await c.next(() => acks(c).length === 2);
    c.send(batch(1));
    await c.next(() => acks(c).length === 3);
    expect(acks(c)).toEqual(['b-0', 'b-2', 'b-1']);
    expect(cp.droppedAcks).toEqual(['b-1']);
    expect(cp.violations).toEqual([]);
    c.close();
  });

  it('delays acks by ackDelayMs', async () => {
    cp = await ReferenceControlPlane.start({ ackDelayMs: 200 });
    const c = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'check' });
    const sentAt = Date.now();
    c.send({ type: 'job.accepted', jobId });
    await c.next(isType('ack'));
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(180);
    c.close();
  });

  it('dedupes by id across a restart on the same port', async () => {
    cp = await ReferenceControlPlane.start();
    const port = cp.port;
    const c1 = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'check' });
    const result = { type: 'job.result', id: 'res-1', jobId, status: 'succeeded', stats: {} };
    c1.send(result);
    await cp.waitForResult(jobId);
    await cp.restart();
    expect(cp.port).toBe(port);
    expect(await c1.waitClose()).toBe(1006);
    // The connector resends its outbox on the new connection (it never saw the ack, say).
    const c2 = await FakeConnector.welcomed(cp);
    c2.send(result);
    await cp.waitFor((f) => f.frame?.['type'] === 'job.result' && f.sessionId !== cp.received[0]!.sessionId);
    expect(cp.received.filter((f) => f.frame?.['id'] === 'res-1')).toHaveLength(2);
    expect(cp.unique().filter((f) => f.frame?.['id'] === 'res-1')).toHaveLength(1);
    expect(cp.duplicates()).toBe(1);
    expect(cp.job(jobId)!.result!.id).toBe('res-1');
    expect(cp.violations).toEqual([]);
    c2.close();
  });

  it('redelivers an unfinished job (same jobId, new id) to the next welcomed session and measures the gap', async () => {
    cp = await ReferenceControlPlane.start();
    const c1 = await FakeConnector.welcomed(cp, 'conn-r');
    const unfinished = cp.sendJob({ jobType: 'grant' });
    const finished = cp.sendJob({ jobType: 'check' });
    await c1.next(() => c1.frames.filter(isType('job')).length === 2);
    c1.send({ type: 'job.accepted', jobId: unfinished.jobId });
    c1.send({ type: 'job.result', jobId: finished.jobId, status: 'succeeded', stats: {} });
    await cp.waitForResult(finished.jobId);
    c1.close();
    await sleep(100);
    const c2 = await FakeConnector.welcomed(cp, 'conn-r');
    const again = await c2.next(isType('job'));
    expect(again['jobId']).toBe(unfinished.jobId);
    expect(again['id']).not.toBe(unfinished.id);
    await sleep(50);
    expect(c2.frames.filter(isType('job'))).toHaveLength(1);
    expect(cp.job(unfinished.jobId)!.sends.map((s) => s.redelivery)).toEqual([false, true]);
    expect(cp.reconnectGaps).toHaveLength(1);
    expect(cp.reconnectGaps[0]!.gapMs).toBeGreaterThanOrEqual(90);
    expect(cp.reconnectGaps[0]!.closeCode).toBe(1006);
    c2.close();
  });

  it('sends a job to one replica only and redelivers to another live replica once the holder dies', async () => {
    cp = await ReferenceControlPlane.start();
    const a = await FakeConnector.welcomed(cp, 'conn-shared');
    const b = await FakeConnector.welcomed(cp, 'conn-shared');
    const { jobId } = cp.sendJob({ jobType: 'grant' });
    // One of them gets it (however slowly); then the other must not, also 100 ms later.
    await Promise.race([a.next(isType('job'), 20_000), b.next(isType('job'), 20_000)]);
    await sleep(100);
    const holders = [a, b].filter((c) => c.frames.some(isType('job')));
    expect(holders).toHaveLength(1);
    const other = holders[0] === a ? b : a;
    holders[0]!.close();
    const redelivered = await other.next(isType('job'));
    expect(redelivered['jobId']).toBe(jobId);
    other.close();
  });

  it('after dropping every replica, redelivers each unfinished job once, to the next welcome', async () => {
    // Guards against bouncing a dead replica's job onto a replica that is being dropped too.
    cp = await ReferenceControlPlane.start();
    const a = await FakeConnector.welcomed(cp, 'conn-shared');
    const b = await FakeConnector.welcomed(cp, 'conn-shared');
    const j1 = cp.sendJob({ jobType: 'grant' });
    const j2 = cp.sendJob({ jobType: 'grant' });
    expect(cp.job(j1.jobId)!.sessionId).not.toBe(cp.job(j2.jobId)!.sessionId);
    cp.dropSessions('terminate');
    await Promise.all([a.waitClose(), b.waitClose()]);
    const c = await FakeConnector.welcomed(cp, 'conn-shared');
    await c.next(() => c.frames.filter(isType('job')).length === 2);
    expect(c.frames.filter(isType('job')).map((f) => f['jobId']).sort()).toEqual([j1.jobId, j2.jobId].sort());
    expect(cp.job(j1.jobId)!.sends).toHaveLength(2);
    expect(cp.job(j2.jobId)!.sends).toHaveLength(2);
    expect(cp.reconnectGaps).toHaveLength(1);
    c.close();
  });

  it('does not redeliver when redeliverOnSessionDeath is false', async () => {
    cp = await ReferenceControlPlane.start({ redeliverOnSessionDeath: false });
    const c1 = await FakeConnector.welcomed(cp);
    cp.sendJob({ jobType: 'grant' });
    await c1.next(isType('job'));
    c1.close();
    const c2 = await FakeConnector.welcomed(cp);
    await sleep(150);
    expect(c2.frames.filter(isType('job'))).toEqual([]);
    c2.close();
  });

  it('cancelJob sends job.cancel to the holding session, and sendRaw delivers any bytes', async () => {
    cp = await ReferenceControlPlane.start();
    const c = await FakeConnector.welcomed(cp);
    const { jobId } = cp.sendJob({ jobType: 'sync' });
    cp.cancelJob(jobId);
    expect(await c.next(isType('job.cancel'))).toMatchObject({ jobId });
    expect(cp.job(jobId)!.cancelRequestedAt).not.toBeNull();
    cp.sendRaw('{"type":"mystery","id":"x"}');
    expect(await c.next(isType('mystery'))).toEqual({ type: 'mystery', id: 'x' });
    c.close();
  });
});
