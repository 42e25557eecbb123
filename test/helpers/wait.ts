// Waiting for what a test counts instead of sleeping a fixed time: on a loaded machine a
// fixed sleep is too short, and everywhere else it is time lost.

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves once `cond()` holds, checking every `everyMs`; fails after `timeoutMs` naming `what`. */
export async function until(cond: () => boolean, timeoutMs: number, what: string, everyMs = 20): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Resolves with `read()` once it has kept the same value for `quietMs` (e.g. a call count
 * that stopped rising); fails after `timeoutMs` if it never does, so "it never stops" is
 * an error and not a hang.
 */
export async function steady(read: () => number, quietMs: number, timeoutMs: number, what: string): Promise<number> {
  const end = Date.now() + timeoutMs;
  let value = read();
  let since = Date.now();
  for (;;) {
    await sleep(Math.min(50, quietMs));
    const now = read();
    if (now !== value) {
      value = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return value;
    }
    if (Date.now() > end) throw new Error(`${what} still changing after ${timeoutMs} ms (last ${value})`);
  }
}
