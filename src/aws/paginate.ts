// Pagination over AWS list calls, one page in flight at a time (a consumer that stops
// pulling stops the paging), with the page size capped at AWS's documented maximum;
// paginateAhead keeps the next page in flight while the consumer works on one.
import { MAX_PAGE } from './quotas.js';

export type PageLimit = keyof typeof MAX_PAGE;

/** The page size to ask for: what the caller wants, never more than AWS allows. */
export function pageSize(limit: PageLimit, wanted?: number): number {
  const max = MAX_PAGE[limit];
  return wanted === undefined ? max : Math.max(1, Math.min(max, Math.floor(wanted)));
}

/**
 * Yields each page's items. `fetch` gets the token of the page to read (undefined for
 * the first) and returns the items and the next token. A token seen twice ends the loop
 * with an error instead of spinning forever on a misbehaving endpoint.
 */
export async function* paginate<T>(fetch: (token: string | undefined) => Promise<{ items: T[] | undefined; next: string | undefined }>): AsyncGenerator<T[]> {
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await fetch(token);
    if (page.items && page.items.length > 0) yield page.items;
    token = page.next || undefined;
    if (token !== undefined) {
      if (seen.has(token)) throw new Error('pagination token repeated');
      seen.add(token);
    }
  } while (token !== undefined);
}

/**
 * paginate(), but the next page is asked for before the current one is yielded: for a long
 * chain of pages whose consumer takes as long with a page as AWS takes to answer (Resource
 * Explorer's organization view: one chain of up to thousands of pages), the two overlap.
 * At most two pages are held. A consumer that stops early leaves one request to finish
 * unheard.
 */
export async function* paginateAhead<T>(fetch: (token: string | undefined) => Promise<{ items: T[] | undefined; next: string | undefined }>): AsyncGenerator<T[]> {
  const seen = new Set<string>();
  // Each request gets a handler the moment it is made: the consumer may hold a page for
  // minutes (Resource Explorer's listing waiting for discovery) while the next one fails,
  // and that failure must surface at the next `await pending`, not as an unhandled rejection.
  const ask = (token: string | undefined) => {
    const p = fetch(token);
    p.catch(() => undefined);
    return p;
  };
  let pending: Promise<{ items: T[] | undefined; next: string | undefined }> | undefined = ask(undefined);
  // A consumer that stops early leaves the request in flight to finish unheard.
  while (pending) {
    const page: { items: T[] | undefined; next: string | undefined } = await pending;
    pending = undefined;
    const token = page.next || undefined;
    if (token !== undefined) {
      if (seen.has(token)) throw new Error('pagination token repeated');
      seen.add(token);
      pending = ask(token);
    }
    if (page.items && page.items.length > 0) yield page.items;
  }
}

/** Every item of every page, for small lists only (permission sets, roots, indexes). */
export async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const p of pages) out.push(...p);
  return out;
}
