import { collect, paginate, pageSize } from '../../src/aws/paginate.js';
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

  test('pages are fetched one at a time, only as the consumer pulls; with ahead, the next is asked for before the current one is handed over', async () => {
    for (const ahead of [false, true]) {
      const fetched: Array<string | undefined> = [];
      const pages = paginate(numbered(fetched), { ahead });
      expect((await pages.next()).value).toEqual([0]);
      // With ahead, page 1 is in flight while the consumer has page 0.
      expect(fetched).toEqual(ahead ? [undefined, '1'] : [undefined]);
      expect(await collect(pages)).toEqual([1, 2, 3, 4]);
      expect(fetched).toEqual([undefined, '1', '2', '3', '4']);
    }
  });

  test('a repeated token is an error, not an endless loop', async () => {
    for (const ahead of [false, true]) {
      await expect(collect(paginate(async () => ({ items: [1], next: 'same' }), { ahead }))).rejects.toThrow('pagination token repeated');
    }
  });

  test('ahead: the page in flight fails while the consumer holds the last one: no unhandled rejection, the failure comes at the next pull', async () => {
    const unhandled = await unhandledDuring(async () => {
      const pages = paginate(failingSecond, { ahead: true });
      expect((await pages.next()).value).toEqual([0]);
      await new Promise((r) => setTimeout(r, 50)); // the consumer is busy across I/O
      await expect(pages.next()).rejects.toThrow('page 2 failed');
    });
    expect(unhandled).toEqual([]);
  });

  test('ahead: a consumer that stops early leaves no unhandled rejection from the page in flight', async () => {
    const unhandled = await unhandledDuring(async () => {
      for await (const page of paginate(failingSecond, { ahead: true })) {
        expect(page).toEqual([0]);
        break;
      }
    });
    expect(unhandled).toEqual([]);
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
