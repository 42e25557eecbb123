// The batcher serializes each entity once, to size the batch, and the frame is written
// from that JSON (src/protocol/codec.ts preEncodeBatch): the text must be exactly what
// serializing the frame gives, and entities added concurrently keep their order.
import { Batcher } from '../../src/sync/batcher.js';
import { encodeFrame, preEncodeBatch } from '../../src/protocol/codec.js';
import type { Entity, SyncBatchFrame } from '../../src/protocol/messages.js';

const entity = (i: number): Entity =>
  ({
    kind: 'iam.role',
    id: `arn:aws:iam::123456789012:role/r-${i}`,
    accountId: '123456789012',
    name: `r-${i} "quoted" \u00e9\u2028`,
    attributes: { n: i, tags: { a: 'b' }, nothing: undefined, list: [1, 'x'] },
  }) as unknown as Entity;

test('a batch is sent as the JSON the frame serializes to, from entities serialized once', async () => {
  const sent: Array<{ frame: SyncBatchFrame; text: string }> = [];
  let seq = 0;
  const b = new Batcher(
    async (entities, cursor, json) => {
      const frame: SyncBatchFrame = { type: 'sync.batch', id: `id-${seq}`, jobId: 'job "1"', seq: seq++, entities, ...(cursor !== undefined && { cursor }) };
      preEncodeBatch(frame, json);
      sent.push({ frame, text: encodeFrame(frame) });
    },
    (final) => (final ? 'final-cursor' : 'cursor'),
  );
  // Concurrent producers, as units are: more than one batch's worth.
  await Promise.all([0, 1, 2].map(async (u) => {
    for (let i = 0; i < 400; i++) await b.add(entity(u * 1000 + i));
  }));
  await b.flush(true);
  expect(sent.length).toBeGreaterThanOrEqual(3);
  for (const s of sent) expect(s.text).toBe(JSON.stringify(s.frame));
  expect(sent.at(-1)!.frame.cursor).toBe('final-cursor');
  const ids = sent.flatMap((s) => (JSON.parse(s.text) as SyncBatchFrame).entities.map((e) => e.id));
  expect(ids).toHaveLength(1200);
  expect(new Set(ids).size).toBe(1200);
  // Each producer's entities arrive in the order it added them.
  for (const u of [0, 1, 2]) {
    const mine = ids.filter((id) => Math.floor(Number(id.split('-').at(-1)) / 1000) === u).map((id) => Number(id.split('-').at(-1)));
    expect(mine).toEqual([...mine].sort((x, y) => x - y));
  }
  // A frame is serialized afresh after its first send (a resend from the outbox).
  expect(encodeFrame(sent[0]!.frame)).toBe(sent[0]!.text);
});

test('an entity over the frame limit is refused; the batcher goes on', async () => {
  const batches: Entity[][] = [];
  const b = new Batcher(async (entities) => void batches.push(entities), () => undefined);
  const huge = { ...entity(1), attributes: { blob: 'x'.repeat(1024 * 1024) } } as unknown as Entity;
  await expect(b.add(huge)).rejects.toThrow(/over the frame limit/);
  await b.add(entity(2));
  await b.flush();
  expect(batches.map((x) => x.map((e) => e.id))).toEqual([[entity(2).id]]);
});
