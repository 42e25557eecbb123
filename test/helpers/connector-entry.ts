// Entry point for process-level tests: the real daemon (runDaemon, from the bundle) with the test job
// type plugged in, protocol timings shrunk when TEST_CONNECTOR_TIMING is set, and a wall
// clock off by TEST_CONNECTOR_CLOCK_SKEW_MS (a host whose clock is wrong: Date.now() and
// new Date() are skewed, monotonic clocks are not).
import { testSleepJob } from './test-jobs.js';

const skew = Number(process.env['TEST_CONNECTOR_CLOCK_SKEW_MS'] ?? '0');
if (skew !== 0) {
  const RealDate = Date;
  class SkewedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(RealDate.now() + skew);
      else super(...(args as [string | number]));
    }
    static override now(): number {
      return RealDate.now() + skew;
    }
  }
  globalThis.Date = SkewedDate as DateConstructor;
}

// Imported after the clock is set, so that no module captures the real one. The bundle
// (dist/bundle/main.js, scripts/bundle.ts) is what the image runs, so it is what
// process-level tests run too; the type is the source's.
const { runDaemon } = (await import(new URL('../../bundle/main.js', import.meta.url).href)) as typeof import('../../src/main.js');
const timing = process.env['TEST_CONNECTOR_TIMING'] ? (JSON.parse(process.env['TEST_CONNECTOR_TIMING']) as Record<string, number>) : undefined;
await runDaemon({ extraHandlers: [testSleepJob], ...(timing !== undefined && { timing }) });
