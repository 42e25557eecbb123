// A real Dispatcher wired to a frame collector instead of a socket, for admission tests.
import { z } from 'zod';
import type { Config } from '../../src/config.js';
import { Dispatcher } from '../../src/daemon/dispatcher.js';
import { Metrics } from '../../src/daemon/metrics.js';
import { Outbox } from '../../src/daemon/outbox.js';
import type { JobContext, JobHandler, JobOutcome, LazyJobHandler } from '../../src/jobs/types.js';
import type { OutboundFrame } from '../../src/protocol/messages.js';
import { captureLog } from './log.js';

/** A job type whose behaviour the test controls: it is a plug-in, not a mock. */
export function controllableHandler(
  jobType: string,
  run: (ctx: JobContext<Record<string, unknown>>) => Promise<JobOutcome> = async () => ({ output: { ok: true } }),
): JobHandler<Record<string, unknown>> {
  return { jobType, params: z.record(z.string(), z.unknown()), run };
}

export function makeDispatcher(config: Config, handlers: Array<JobHandler<any> | LazyJobHandler>, now?: () => number) {
  const sent: OutboundFrame[] = [];
  const outbox = new Outbox();
  const captured = captureLog();
  const dispatcher = new Dispatcher({
    config,
    log: captured.log,
    metrics: new Metrics(),
    outbox,
    handlers,
    send: (f) => {
      sent.push(f);
      if (['job.accepted', 'job.rejected', 'sync.batch', 'job.result'].includes(f.type)) outbox.add(f);
    },
    ...(now !== undefined && { now }),
    abortSettleMs: 500,
  });
  return { dispatcher, sent, outbox, logs: captured };
}
