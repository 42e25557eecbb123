// What a job handler is given and what it returns. Sync, grant, revoke and check each
// register one handler; the dispatcher owns admission, ordering and the protocol.
import type { ZodType } from 'zod';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Entity, Integration } from '../protocol/messages.js';
import type { ProgressFigures } from '../sync/types.js';

export type { ProgressFigures };

export interface JobContext<P> {
  jobId: string;
  jobType: string;
  attempt: number;
  integration: Integration;
  params: P;
  /** Fires on job.cancel and at the end of the shutdown grace. */
  signal: AbortSignal;
  log: Logger;
  config: Config;
  /**
   * Lossy progress report (job.progress: phase, done, total). `figures` are for a local
   * display (`access-connector sync`); the control plane gets phase, done and total only.
   */
  progress(phase: string, done: number, total?: number, figures?: ProgressFigures): void;
  /**
   * Sends one sync.batch (≤ 500 entities, ≤ 1 MiB) and resolves once the job is back
   * under its window of unacked batches: the backpressure that bounds a sync's memory.
   * `entitiesJson` (the entities' JSON, comma-separated), when given, is written into the
   * frame as it is: the batcher has serialized each entity already, to size the batch.
   */
  emitBatch(entities: Entity[], cursor?: string, entitiesJson?: string): Promise<void>;
}

export interface JobOutcome {
  output?: unknown;
  stats?: Record<string, unknown>;
  /** A handler that undid its work after an abort returns this instead of throwing. */
  cancelled?: boolean;
  /**
   * The job succeeded but found something an operator must act on (a `check` whose report
   * holds a failed check): the job.result log line is at warn with this message and fields.
   */
  warning?: { message: string; fields?: Record<string, unknown> };
}

export interface JobHandler<P = unknown> {
  jobType: string;
  /** Parses `params`; a failure answers the job with job.rejected `invalid`. */
  params: ZodType<P>;
  /**
   * Checks done on receipt, before job.accepted (policy veto, integration pinning).
   * Returns a reason to reject, or undefined.
   */
  admit?(job: { integration: Integration; params: P; config: Config }): { reason: 'policy' | 'invalid' | 'unsupported'; message: string } | undefined;
  run(ctx: JobContext<P>): Promise<JobOutcome>;
}

/**
 * A job type whose handler module (and everything behind it: sync sources, access kinds,
 * their AWS SDK clients) is imported when its first job arrives, not at start.
 */
export interface LazyJobHandler {
  jobType: string;
  load(): Promise<JobHandler>;
}

/** Capabilities advertised in hello. */
export interface Capabilities {
  jobTypes: string[];
  accessKinds: string[];
  entityKinds: string[];
}
