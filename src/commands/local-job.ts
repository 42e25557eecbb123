// Runs a job handler in this process without a control plane: the same code path as
// the daemon (params schema, the handler's own veto, AWS scope, cancellation on SIGINT),
// with batches handed to a callback instead of the outbox.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.js';
import { toJobError } from '../errors.js';
import type { Logger } from '../log.js';
import { describeIssues, type Entity, type Integration } from '../protocol/messages.js';
import { execute } from '../jobs/execute.js';
import type { JobHandler, ProgressFigures } from '../jobs/types.js';
import { fileProblems, locateIssues } from '../files.js';
import { RefusedError, UsageError } from './args.js';

export interface LocalJobResult {
  status: 'succeeded' | 'failed' | 'cancelled';
  output?: unknown;
  error?: { code: string; message: string; retryable: boolean };
  stats: Record<string, unknown>;
}

export interface LocalJobOptions {
  config: Config;
  log: Logger;
  integration: Integration;
  params: unknown;
  /** The file the params came from: schema problems are then named with line and column. */
  paramsFile?: { path: string; text: string };
  onBatch?: (entities: Entity[], cursor: string | undefined) => Promise<void> | void;
  onProgress?: (phase: string, done: number, total?: number, figures?: ProgressFigures) => void;
}

export async function runLocalJob<P>(handler: JobHandler<P>, opts: LocalJobOptions): Promise<LocalJobResult> {
  const parsed = handler.params.safeParse(opts.params);
  if (!parsed.success) {
    throw new UsageError(opts.paramsFile
      ? `params file ${fileProblems(opts.paramsFile.path, locateIssues(opts.paramsFile.text, parsed.error.issues))}`
      : `params: ${describeIssues(parsed.error)}`);
  }
  const veto = handler.admit?.({ integration: opts.integration, params: parsed.data, config: opts.config });
  if (veto) throw veto.reason === 'policy' ? new RefusedError(`refused by the policy file: ${veto.message}`) : new UsageError(`${veto.reason}: ${veto.message}`);
  const controller = new AbortController();
  const onSigint = () => controller.abort(new DOMException('interrupted', 'AbortError'));
  process.once('SIGINT', onSigint);
  let run;
  try {
    run = await execute(handler, {
      jobId: `local-${randomUUID()}`,
      jobType: handler.jobType,
      attempt: 1,
      integration: opts.integration,
      params: parsed.data,
      signal: controller.signal,
      log: opts.log,
      config: opts.config,
      progress: (phase, done, total, figures) => opts.onProgress?.(phase, done, total, figures),
      emitBatch: async (entities, cursor) => {
        await opts.onBatch?.(entities, cursor);
      },
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  const { outcome, failure, stats } = run;
  if (failure === undefined) return { status: outcome?.cancelled ? 'cancelled' : 'succeeded', output: outcome?.output, stats };
  const error = toJobError(failure);
  return { status: controller.signal.aborted ? 'cancelled' : 'failed', error, stats };
}
