import { collect, paginate, pageSize, readAhead } from '../../src/aws/paginate.js';
import { familyOf } from '../../src/aws/quotas.js';

describe('pagination helpers', () => {
  test('page sizes never exceed what AWS documents', () => {
    expect(pageSize('organizations')).toBe(20);
    expect(pageSize('organizations', 500)).toBe(20);
    expect(pageSize('ssoAdmin', 50)).toBe(50);
    expect(pageSize('ssmInstanceInformation', 1000)).toBe(50);
    expect(pageSize('iamAuthorizationDetails', 0)).toBe(1);
  });

  /** Five pages, 0 to 4, whose tokens are recorded as they are asked for. */
  const numbered = (fetched: Array<string | undefined>) => async (t: string | undefined) => {
    fetched.push(t);
    const n = t === undefined ? 0 : Number(t);
    return { items: [n], next: n < 4 ? String(n + 1) : undefined };
  };
  /** A first page, then a next page that fails. */
  const failingSecond = async (t: string | undefined) => {
    if (t !== undefined) throw new Error('page 2 failed');
    return { items: [0], next: 'x' };
  };
  /** Runs `body` and returns the unhandled rejections seen during it. */
  const unhandledDuring = async (body: () => Promise<void>): Promise<unknown[]> => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      await body();
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    return unhandled;
  };

  test('pages are fetched one at a time, only as the consumer pulls', async () => {
    const fetched: Array<string | undefined> = [];
    const pages = paginate(numbered(fetched));
    expect((await pages.next()).value).toEqual([0]);
    // The consumer has page 0 and has not asked for more: nothing else is in flight.
    expect(fetched).toEqual([undefined]);
    expect(await collect(pages)).toEqual([1, 2, 3, 4]);
    expect(fetched).toEqual([undefined, '1', '2', '3', '4']);
  });

  test('a repeated token is an error, not an endless loop', async () => {
    await expect(collect(paginate(async () => ({ items: [1], next: 'same' })))).rejects.toThrow('pagination token repeated');
  });

  test('a page that fails after the consumer held the last one across I/O fails the next pull, with no unhandled rejection', async () => {
    const unhandled = await unhandledDuring(async () => {
      const pages = paginate(failingSecond);
      expect((await pages.next()).value).toEqual([0]);
      await new Promise((r) => setTimeout(r, 50)); // the consumer is busy across I/O
      await expect(pages.next()).rejects.toThrow('page 2 failed');
    });
    expect(unhandled).toEqual([]);
  });

  test('a consumer that stops early asks for no further page', async () => {
    const fetched: Array<string | undefined> = [];
    for await (const page of paginate(numbered(fetched))) {
      expect(page).toEqual([0]);
      break;
    }
    expect(fetched).toEqual([undefined]);
  });

  test('API families: Identity Center shares one bucket; Search has its own', () => {
    expect(familyOf('SSOAdmin', 'ListInstances')).toBe('identitycenter');
    expect(familyOf('Identitystore', 'ListUsers')).toBe('identitycenter');
    expect(familyOf('ResourceExplorer2', 'Search')).toBe('resource-explorer-search');
    expect(familyOf('ResourceExplorer2', 'ListResources')).toBe('resource-explorer');
    expect(familyOf('CloudTrail', 'LookupEvents')).toBe('cloudtrail-lookup');
  });
});

test("the connector's quota table and the simulator's are the same AWS facts", async () => {
  const { AWS_RATES } = await import('../../src/aws/quotas.js');
  const { DEFAULT_RATES } = await import('../sim/aws/quotas.js');
  expect(AWS_RATES).toEqual(DEFAULT_RATES);
});

describe('readAhead', () => {
  /** Yields 0..n-1, counting what it made; fails after `failAfter` items if given. */
  function counted(n: number, failAfter?: number) {
    const state = { made: 0, closed: false };
    const gen = (async function* () {
      try {
        for (let i = 0; i < n; i++) {
          if (i === failAfter) throw new Error('listing failed');
          state.made++;
          await Promise.resolve();
          yield i;
        }
      } finally {
        state.closed = true;
      }
    })();
    return { state, gen };
  }
  const settle = () => new Promise((r) => setTimeout(r, 10));

  test('runs its source ahead of the consumer and hands out every item in order', async () => {
    const { state, gen } = counted(3000);
    const it = readAhead(() => gen);
    expect((await it.next()).value).toBe(0);
    await settle();
    // The consumer took one; the source ran to its end meanwhile.
    expect(state.made).toBe(3000);
    const rest: number[] = [];
    for await (const x of it) rest.push(x);
    expect(rest).toEqual(Array.from({ length: 2999 }, (_, i) => i + 1));
  });

  test('a failing source: the items before the failure, then its error', async () => {
    const { gen } = counted(10, 4);
    const got: number[] = [];
    await expect((async () => {
      for await (const x of readAhead(() => gen)) got.push(x);
    })()).rejects.toThrow('listing failed');
    expect(got).toEqual([0, 1, 2, 3]);
  });

  test('a consumer that stops stops the source', async () => {
    let made = 0;
    let closed = false;
    // A source that would never end on its own, a macrotask per item.
    const endless = (async function* () {
      try {
        for (let i = 0; ; i++) {
          made++;
          await new Promise((r) => setImmediate(r));
          yield i;
        }
      } finally {
        closed = true;
      }
    })();
    for await (const x of readAhead(() => endless)) if (x === 2) break;
    expect(closed).toBe(true);
    const stoppedAt = made;
    await settle();
    expect(made).toBe(stoppedAt);
  });

  test('a source that makes calls between its items is told when the consumer has stopped', async () => {
    let calls = 0;
    let sawStop = false;
    // Many calls (a macrotask each) before each item, checking stopped() before each.
    const source = (stopped: () => boolean) => (async function* () {
      for (let item = 0; ; item++) {
        for (let c = 0; c < 50; c++) {
          if (stopped()) {
            sawStop = true;
            return;
          }
          calls++;
          await new Promise((r) => setImmediate(r));
        }
        yield item;
      }
    })();
    const t0 = calls;
    for await (const x of readAhead(source)) if (x === 0) break;
    // The consumer's return waited for the source, which saw the stop within a call of it
    // instead of making the 50 calls to its next item.
    expect(sawStop).toBe(true);
    expect(calls - t0).toBeLessThan(2 * 50);
  });
});
