// A job type for driving the real daemon in tests before (and beside) the AWS-backed
// ones: it sleeps, streams batches and "undoes" on abort. It is a plug-in given to the
// daemon through its public handler interface, not a stand-in for any of our modules.
import { z } from 'zod';
import type { Entity } from '../../src/protocol/messages.js';
import type { JobHandler } from '../../src/jobs/types.js';

const params = z.object({
  ms: z.number().int().min(0).max(600_000).default(0),
  batches: z.number().int().min(0).max(100_000).default(0),
  entitiesPerBatch: z.number().int().min(0).max(500).default(10),
  /** How long the job takes to undo its work once aborted. */
  undoMs: z.number().int().min(0).max(60_000).default(0),
  fail: z.boolean().default(false),
});

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

export const testSleepJob: JobHandler<z.infer<typeof params>> = {
  jobType: 'test.sleep',
  params,
  async run(ctx) {
    const p = ctx.params;
    try {
      for (let b = 0; b < p.batches; b++) {
        const entities: Entity[] = Array.from({ length: p.entitiesPerBatch }, (_, i) => ({
          kind: 'resource',
          id: `arn:aws:test:::${ctx.jobId}/${b}/${i}`,
          name: `entity ${b}/${i}`,
          attributes: {},
        }));
        await ctx.emitBatch(entities, `cursor-${b}`);
        ctx.progress('batches', b + 1, p.batches);
      }
      await sleep(p.ms, ctx.signal);
    } catch (err) {
      if (ctx.signal.aborted) {
        await sleep(p.undoMs);
        return { cancelled: true, output: { undone: true } };
      }
      throw err;
    }
    if (p.fail) throw new Error('test.sleep was asked to fail');
    return { output: { slept: p.ms, batches: p.batches } };
  },
};
