// Regression: a sync whose window was full waited for acks with no timer, so one ack lost
// on a live connection stalled it until the next reconnect (never, on a healthy link).
import { ReferenceControlPlane } from '../sim/control-plane/server.js';
import { ConnectorProcess, connectorEnv } from '../helpers/process.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

test('a lost ack at a full window: the unacked batch is resent on the same connection and the sync finishes', async () => {
  // Window 1: the lost ack of batch 1 holds the job until batch 1 is acked.
  const cp = await ReferenceControlPlane.start({ window: 1 });
  cleanup.push(() => cp.close());
  const c = new ConnectorProcess({ TEST_CONNECTOR_TIMING: JSON.stringify({ ackResendMs: 300 }), ...connectorEnv(cp.url) });
  cleanup.push(() => c.stop());
  // 20 s: the connector process was just spawned; its start is slow on a loaded machine.
  const session = await cp.waitForSession(20_000);
  cp.dropAckOnce((f) => f['type'] === 'sync.batch' && f['seq'] === 1);
  const { jobId } = cp.sendJob({ jobType: 'test.sleep', params: { batches: 4, entitiesPerBatch: 2 } });

  const result = await cp.waitForResult(jobId, 20_000);
  expect(result.status).toBe('succeeded');
  expect([...cp.job(jobId)!.batches.keys()]).toEqual([0, 1, 2, 3]);
  // The same frame (same id) arrived twice, both times on the one session that never closed.
  const lost = cp.droppedAcks[0]!;
  const copies = cp.received.filter((r) => r.frame?.['id'] === lost);
  // (More than one resend is possible on a slow machine; each is the same frame.)
  expect(copies.length).toBeGreaterThanOrEqual(2);
  expect(new Set(copies.map((r) => r.sessionId))).toEqual(new Set([session.sessionId]));
  expect(cp.sessions()).toHaveLength(1);
  expect(cp.closes).toEqual([]);
  const resends = c.logs().filter((e) => e['event'] === 'outbox.resend');
  expect(resends.length).toBeGreaterThanOrEqual(1);
  for (const r of resends) expect(r).toMatchObject({ jobId, frames: 1 });
  expect(cp.violations).toEqual([]);
});
