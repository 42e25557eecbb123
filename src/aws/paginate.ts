// Pagination over AWS list calls, one page in flight at a time (a consumer that stops
// pulling stops the paging; with `ahead`, the next page is in flight while the consumer
// works on one), with the page size capped at AWS's documented maximum.
import { MAX_PAGE } from './quotas.js';

export type PageLimit = keyof typeof MAX_PAGE;

/** The page size to ask for: what the caller wants, never more than AWS allows. */
export function pageSize(limit: PageLimit, wanted?: number): number {
  const max = MAX_PAGE[limit];
  return wanted === undefined ? max : Math.max(1, Math.min(max, Math.floor(wanted)));
}

type Page<T> = { items: T[] | undefined; next: string | undefined };

/**
 * Yields each page's items. `fetch` gets the token of the page to read (undefined for
 * the first) and returns the items and the next token. A token seen twice ends the loop
 * with an error instead of spinning forever on a misbehaving endpoint.
 *
 * `ahead`: the next page is asked for before the current one is yielded, for a long chain
 * of pages whose consumer takes as long with a page as AWS takes to answer (Resource
 * Explorer's organization view: up to thousands of pages); the two overlap, and at most
 * two pages are held. Each such request gets a handler the moment it is made: the consumer
 * may hold a page for minutes (the listing waiting for discovery) while the next one fails,
 * and that failure must surface at the next pull, not as an unhandled rejection. A
 * consumer that stops early leaves that request to finish unheard.
 */
export async function* paginate<T>(fetch: (token: string | undefined) => Promise<Page<T>>, opts: { ahead?: boolean } = {}): AsyncGenerator<T[]> {
  const seen = new Set<string>();
  const ask = (token: string | undefined): Promise<Page<T>> => {
    const p = fetch(token);
    if (opts.ahead) p.catch(() => undefined);
    return p;
  };
  const next = (page: Page<T>): Promise<Page<T>> | undefined => {
    const token = page.next || undefined;
    if (token === undefined) return undefined;
    if (seen.has(token)) throw new Error('pagination token repeated');
    seen.add(token);
    return ask(token);
  };
  let pending: Promise<Page<T>> | undefined = ask(undefined);
  while (pending) {
    const page: Page<T> = await pending;
    pending = opts.ahead ? next(page) : undefined;
    if (page.items && page.items.length > 0) yield page.items;
    if (!opts.ahead) pending = next(page);
  }
}

/** Every item of every page, for small lists only (permission sets, roots, indexes). */
export async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const p of pages) out.push(...p);
  return out;
}
