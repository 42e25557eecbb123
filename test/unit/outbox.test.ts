import { Outbox } from '../../src/daemon/outbox.js';
import type { OutboundFrame } from '../../src/protocol/messages.js';

const batch = (id: string, jobId = 'j', seq = 0): OutboundFrame => ({ type: 'sync.batch', id, jobId, seq, entities: [] });

describe('outbox', () => {
  test('keeps frames in their original order until acked; unknown acks are ignored', () => {
    const o = new Outbox();
    o.add({ type: 'job.accepted', id: 'a', jobId: 'j' });
    o.add(batch('b'));
    o.add(batch('c'));
    o.add(batch('b')); // a resend of the same frame is not a second frame
    expect(o.frames().map((f) => f.id)).toEqual(['a', 'b', 'c']);
    expect(o.ack(['b', 'zzz'])).toBe(1);
    expect(o.frames().map((f) => f.id)).toEqual(['a', 'c']);
  });

  test('the window blocks at `window` unacked batches of one job and opens on ack', async () => {
    const o = new Outbox();
    o.setWindow(2);
    o.add(batch('1', 'j1'));
    await o.waitForWindow('j1');
    o.add(batch('2', 'j1'));
    o.add(batch('x', 'other'));
    let opened = false;
    const p = o.waitForWindow('j1').then(() => (opened = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(opened).toBe(false);
    o.ack(['x']); // another job's ack does not open this job's window
    await new Promise((r) => setTimeout(r, 20));
    expect(opened).toBe(false);
    o.ack(['1']);
    await p;
    expect(opened).toBe(true);
  });

  test('a waiting job is released by its abort signal', async () => {
    const o = new Outbox();
    o.setWindow(1);
    o.add(batch('1', 'j1'));
    const ac = new AbortController();
    const p = o.waitForWindow('j1', ac.signal);
    ac.abort(new DOMException('stop', 'AbortError'));
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('drained() tells whether everything was acked in time', async () => {
    const o = new Outbox();
    o.add(batch('1'));
    expect(await o.drained(20)).toBe(false);
    const p = o.drained(1000);
    o.ack(['1']);
    expect(await p).toBe(true);
  });
});
