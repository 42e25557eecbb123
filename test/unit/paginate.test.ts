import { collect, paginate, paginateAhead, pageSize } from '../../src/aws/paginate.js';
import { familyOf } from '../../src/aws/quotas.js';

describe('pagination helpers', () => {
  test('page sizes never exceed what AWS documents', () => {
    expect(pageSize('organizations')).toBe(20);
    expect(pageSize('organizations', 500)).toBe(20);
    expect(pageSize('ssoAdmin', 50)).toBe(50);
    expect(pageSize('ssmInstanceInformation', 1000)).toBe(50);
    expect(pageSize('iamAuthorizationDetails', 0)).toBe(1);
  });

  test('pages are fetched one at a time, only as the consumer pulls', async () => {
    const fetched: Array<string | undefined> = [];
    const pages = paginate(async (t) => {
      fetched.push(t);
      const n = t === undefined ? 0 : Number(t);
      return { items: [n], next: n < 4 ? String(n + 1) : undefined };
    });
    const first = await pages.next();
    expect(first.value).toEqual([0]);
    expect(fetched).toEqual([undefined]);
    expect(await collect(pages)).toEqual([1, 2, 3, 4]);
    expect(fetched).toEqual([undefined, '1', '2', '3', '4']);
  });

  test('a repeated token is an error, not an endless loop', async () => {
    const pages = paginate(async () => ({ items: [1], next: 'same' }));
    await expect(collect(pages)).rejects.toThrow('pagination token repeated');
  });

  test('paginateAhead: the next page is asked for before the current one is handed over, the same pages in order', async () => {
    const fetched: Array<string | undefined> = [];
    const pages = paginateAhead(async (t) => {
      fetched.push(t);
      const n = t === undefined ? 0 : Number(t);
      return { items: [n], next: n < 4 ? String(n + 1) : undefined };
    });
    const first = await pages.next();
    expect(first.value).toEqual([0]);
    expect(fetched).toEqual([undefined, '1']); // page 1 in flight while the consumer has page 0
    expect(await collect(pages)).toEqual([1, 2, 3, 4]);
    expect(fetched).toEqual([undefined, '1', '2', '3', '4']);
    await expect(collect(paginateAhead(async () => ({ items: [1], next: 'same' })))).rejects.toThrow('pagination token repeated');
  });

  test('paginateAhead: the page in flight fails while the consumer holds the last one: no unhandled rejection, the failure comes at the next pull', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const pages = paginateAhead(async (t) => {
        if (t !== undefined) throw new Error('page 2 failed');
        return { items: [0], next: 'x' };
      });
      expect((await pages.next()).value).toEqual([0]);
      await new Promise((r) => setTimeout(r, 50)); // the consumer is busy across I/O
      expect(unhandled).toEqual([]);
      await expect(pages.next()).rejects.toThrow('page 2 failed');
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('paginateAhead: a consumer that stops early leaves no unhandled rejection from the page in flight', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const pages = paginateAhead(async (t) => {
        if (t !== undefined) throw new Error('page 2 failed');
        return { items: [0], next: 'x' };
      });
      for await (const page of pages) {
        expect(page).toEqual([0]);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
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
