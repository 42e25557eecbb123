// Pagination over AWS list calls, one page in flight at a time (a consumer that stops
// pulling stops the paging), with the page size capped at AWS's documented maximum.
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
 * The next page is asked for only once the consumer has done with this one. Asking for it
 * earlier (tried for Resource Explorer's organization view, a chain of up to thousands of
 * pages) saved no measurable time, because AWS's quota, not the consumer, sets that
 * chain's pace; it held two pages instead of one (docs/performance.md, "Resource
 * Explorer's next page").
 */
export async function* paginate<T>(fetch: (token: string | undefined) => Promise<Page<T>>): AsyncGenerator<T[]> {
  const seen = new Set<string>();
  let token: string | undefined;
  for (;;) {
    const page = await fetch(token);
    if (page.items && page.items.length > 0) yield page.items;
    token = page.next || undefined;
    if (token === undefined) return;
    if (seen.has(token)) throw new Error('pagination token repeated');
    seen.add(token);
  }
}

/** Every item of every page, for small lists only (permission sets, roots, indexes). */
export async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const out: T[] = [];
  for await (const p of pages) out.push(...p);
  return out;
}

/**
 * Runs the generator `make` returns to its end as fast as it goes, keeping what it yields
 * until asked for: the consumer gets the same items in the same order, later. What is kept
 * is bounded by what the generator yields in all, so it is for bounded listings (the
 * organization's tree). If it fails, the consumer gets its error after the items before
 * it. If the consumer stops, `stopped()` says so from then on: the generator should check
 * it before each call it makes, since it is otherwise stopped only at its next yield (and
 * the consumer's return waits for that).
 */
export async function* readAhead<T>(make: (stopped: () => boolean) => AsyncGenerator<T>): AsyncGenerator<T> {
  const items: T[] = [];
  let next = 0;
  let ended = false;
  let failure: { err: unknown } | undefined;
  let stop = false;
  let wake: (() => void) | undefined;
  const pump = (async () => {
    try {
      for await (const item of make(() => stop)) {
        if (stop) break;
        items.push(item);
        wake?.();
      }
    } catch (err) {
      failure = { err };
    } finally {
      ended = true;
      wake?.();
    }
  })();
  try {
    for (;;) {
      if (next < items.length) {
        const item = items[next]!;
        // Let go of what was handed out (compacted now and then, not shifted each time).
        items[next++] = undefined as T;
        if (next >= 1024 && next * 2 >= items.length) {
          items.splice(0, next);
          next = 0;
        }
        yield item;
        continue;
      }
      if (ended) {
        if (failure) throw failure.err;
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stop = true;
    await pump;
  }
}
