// Job admission and execution (docs/protocol.md, "Admission"): signature, dedupe, schema, notAfter,
// draining, handler lookup, params, the handler's own veto, then capacity. Accepted jobs
// run on a p-queue; every decision is one audit log line.
import { randomUUID } from 'node:crypto';
import PQueue from 'p-queue';
import type { Config } from '../config.js';
import { ERROR_CODES, isAbortError, toJobError } from '../errors.js';
import type { Logger } from '../log.js';
import { errorFrame, preEncodeBatch, refIdOf } from '../protocol/codec.js';
import {
  JOB_ID_PATTERN,
  MAX_BATCH_ENTITIES,
  MAX_FRAME_BYTES,
  ackFrame,
  describeIssues,
  errorFrame as errorFrameSchema,
  jobCancelFrame,
  jobFrame,
  type Entity,
  type JobError,
  type JobFrame,
  type JobRejectedFrame,
  type JobResultFrame,
  type OutboundFrame,
  type RejectReason,
  type SyncBatchFrame,
} from '../protocol/messages.js';
import { CLOCK_SKEW_MS, verifyJobSignature } from '../protocol/signature.js';
import type { JobContext, JobHandler, JobOutcome, LazyJobHandler } from '../jobs/types.js';
import { execute } from '../jobs/execute.js';
import { jobTypeLabel, type Metrics } from './metrics.js';
import type { Outbox } from './outbox.js';

/** Finished jobs are remembered at least this long (docs/protocol.md, "Dedupe of jobs": ≥ 24 h). */
const DEDUPE_TTL_MS = 25 * 60 * 60 * 1000;
const DEDUPE_MAX_ENTRIES = 100_000;
/** Stored answers (results can be large) are bounded in bytes too. */
const DEDUPE_MAX_BYTES = 64 * 1024 * 1024;
const PRUNE_EVERY_MS = 10 * 60 * 1000;
/** After the grace period, how long aborted jobs get to undo their work. */
const ABORT_SETTLE_MS = 10_000;
const PROGRESS_MIN_INTERVAL_MS = 250;

type JobState = 'queued' | 'running' | 'finished';

interface JobEntry {
  /** Bytes of the stored answer, for the dedupe table's byte bound. */
  answerBytes?: number;
  jobId: string;
  jobType: string;
  state: JobState;
  controller: AbortController;
  /** The stored answer resent to a duplicate: job.result, or a stored job.rejected. */
  answer?: JobResultFrame | JobRejectedFrame;
  finishedAt?: number;
  cancelReason?: 'control-plane' | 'shutdown';
}

export interface DispatcherDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  outbox: Outbox;
  send: (frame: OutboundFrame) => void;
  handlers: readonly (JobHandler | LazyJobHandler)[];
  now?: () => number;
  abortSettleMs?: number;
}

/** Rejections that are not stored (docs/protocol.md, "Dedupe of jobs"): the same jobId may be sent again later. */
const UNSTORED: ReadonlySet<RejectReason> = new Set(['busy', 'draining', 'signature']);

export class Dispatcher {
  private readonly table = new Map<string, JobEntry>();
  private readonly queue: PQueue;
  private readonly handlers: Map<string, JobHandler | LazyJobHandler>;
  /**
   * Frames received while a job type's handler module loads wait here, in order: a cancel
   * or a duplicate must never overtake the job it follows.
   */
  private backlog: Promise<void> = Promise.resolve();
  private backlogged = 0;
  private readonly now: () => number;
  private draining = false;
  private readonly active = new Set<Promise<void>>();
  private storedBytes = 0;
  private lastPrune = 0;

  constructor(private readonly deps: DispatcherDeps) {
    this.queue = new PQueue({ concurrency: deps.config.maxConcurrentJobs });
    this.handlers = new Map(deps.handlers.map((h) => [h.jobType, h]));
    this.now = deps.now ?? Date.now;
  }

  /** Jobs accepted and not finished (hello's `running`). */
  unfinishedJobIds(): string[] {
    return [...this.table.values()].filter((e) => e.state !== 'finished').map((e) => e.jobId);
  }

  get runningCount(): number {
    return [...this.table.values()].filter((e) => e.state === 'running').length;
  }

  /** Entry point for every frame received after welcome. */
  handle(raw: Record<string, unknown>, type: string): void {
    if (this.backlogged > 0) return this.enqueue(() => this.handleNow(raw, type));
    const loading = this.handleNow(raw, type);
    if (loading) this.enqueue(() => loading);
  }

  private enqueue(fn: () => Promise<void> | void): void {
    this.backlogged++;
    this.backlog = this.backlog
      .then(fn)
      .catch((err: unknown) => this.deps.log.error({ err, code: 'INTERNAL_ERROR' }, 'a received frame could not be handled'))
      .finally(() => this.backlogged--);
  }

  /** Handles a frame; returns a promise only while the job's handler module is loading. */
  private handleNow(raw: Record<string, unknown>, type: string): Promise<void> | void {
    const lazy = type === 'job' && typeof raw['jobType'] === 'string' ? this.handlers.get(raw['jobType']) : undefined;
    if (lazy && 'load' in lazy) {
      return lazy.load().then((handler) => {
        this.handlers.set(lazy.jobType, handler);
        this.onJob(raw);
      });
    }
    switch (type) {
      case 'job':
        this.onJob(raw);
        return;
      case 'job.cancel':
        this.onCancel(raw);
        return;
      case 'ack': {
        const parsed = ackFrame.safeParse(raw);
        if (!parsed.success) return this.protocolError(raw, describeIssues(parsed.error));
        this.deps.outbox.ack(parsed.data.ids);
        this.deps.metrics.outboxDepth.set(this.deps.outbox.size);
        return;
      }
      case 'error': {
        const parsed = errorFrameSchema.safeParse(raw);
        if (!parsed.success) return this.protocolError(raw, describeIssues(parsed.error));
        this.deps.log.warn(
          { event: 'control_plane.error', peerCode: parsed.data.code, refId: parsed.data.refId },
          `control plane reported an error: ${parsed.data.message.slice(0, 300)}`,
        );
        return;
      }
      case 'welcome':
        return; // handled by the connection
      default:
        this.deps.log.debug({ type: type.slice(0, 64) }, 'unknown frame type ignored');
    }
  }

  private protocolError(raw: Record<string, unknown>, detail: string): void {
    this.deps.log.warn({ code: 'PROTOCOL_ERROR', type: String(raw['type']).slice(0, 64) }, `invalid frame: ${detail}`);
    this.deps.send(errorFrame('FRAME_INVALID', detail.slice(0, 1000), refIdOf(raw)));
  }

  // ---------------------------------------------------------------------------------
  // Admission

  private onJob(raw: Record<string, unknown>): void {
    const { config, metrics } = this.deps;
    const jobId = raw['jobId'];
    if (typeof jobId !== 'string' || !JOB_ID_PATTERN.test(jobId)) {
      // Without a usable jobId there is no job to reject: answer the frame itself.
      metrics.jobsReceived.inc({ type: 'other', decision: 'invalid' });
      return this.protocolError(raw, 'jobId: missing or not of the form ^[A-Za-z0-9._:-]{1,128}$');
    }
    const jobTypeRaw = typeof raw['jobType'] === 'string' ? raw['jobType'] : 'unknown';

    // Signatures first: in signed mode nothing else about an unsigned frame matters.
    if (config.jobKeys.length > 0) {
      const verdict = verifyJobSignature(raw, config.jobKeys, config.connectorId, this.now());
      if (!verdict.ok) return this.reject(jobId, jobTypeRaw, 'signature', verdict.why);
    }

    const existing = this.table.get(jobId);
    if (existing) {
      if (existing.state === 'finished' && existing.answer) {
        this.deps.log.info({ jobId, event: 'job.duplicate' }, 'duplicate job: resending its stored answer');
        this.deps.send(existing.answer);
      } else {
        this.deps.log.info({ jobId, event: 'job.duplicate' }, 'duplicate job: it is already accepted');
        this.deps.send({ type: 'job.accepted', id: randomUUID(), jobId });
      }
      return;
    }

    const parsed = jobFrame.safeParse(raw);
    if (!parsed.success) return this.reject(jobId, jobTypeRaw, 'invalid', describeIssues(parsed.error));
    const job = parsed.data;

    const notAfter = Date.parse(job.notAfter);
    if (notAfter < this.now() - CLOCK_SKEW_MS) {
      return this.reject(jobId, job.jobType, 'expired', `notAfter ${job.notAfter} has passed`);
    }
    if (this.draining) return this.reject(jobId, job.jobType, 'draining', 'connector is shutting down');

    const handler = this.handlers.get(job.jobType);
    if (!handler || 'load' in handler) {
      return this.reject(jobId, job.jobType, 'unsupported', `job type "${job.jobType.slice(0, 64)}" is not supported by this connector`);
    }
    const params = handler.params.safeParse(job.params);
    if (!params.success) return this.reject(jobId, job.jobType, 'invalid', describeIssues(params.error, 'params'));
    const veto = handler.admit?.({ integration: job.integration, params: params.data, config });
    if (veto) return this.reject(jobId, job.jobType, veto.reason, veto.message);

    const capacity = 2 * config.maxConcurrentJobs;
    if (this.queue.pending + this.queue.size >= capacity) {
      return this.reject(jobId, job.jobType, 'busy', `${this.queue.pending} jobs running and ${this.queue.size} queued`);
    }
    this.accept(job, handler, params.data);
  }

  private reject(jobId: string, jobType: string, reason: RejectReason, message: string): void {
    const frame: JobRejectedFrame = { type: 'job.rejected', id: randomUUID(), jobId, reason, message: message.slice(0, 1000) };
    this.deps.metrics.jobsReceived.inc({ type: jobTypeLabel(jobType), decision: reason });
    this.deps.log.warn(
      { audit: true, event: 'job.rejected', jobId, jobType: jobType.slice(0, 64), reason },
      `job rejected (${reason}): ${frame.message}`,
    );
    if (!UNSTORED.has(reason)) {
      this.remember({
        jobId,
        jobType,
        state: 'finished',
        controller: new AbortController(),
        answer: frame,
        finishedAt: this.now(),
      });
    }
    this.deps.send(frame);
  }

  private accept(job: JobFrame, handler: JobHandler, params: unknown): void {
    const entry: JobEntry = { jobId: job.jobId, jobType: job.jobType, state: 'queued', controller: new AbortController() };
    this.remember(entry);
    this.deps.metrics.jobsReceived.inc({ type: jobTypeLabel(job.jobType), decision: 'accepted' });
    this.deps.log.info(
      {
        audit: true,
        event: 'job.accepted',
        jobId: job.jobId,
        jobType: job.jobType,
        integrationId: job.integration.id,
        attempt: job.attempt,
        notAfter: job.notAfter,
        ...(job.keyId !== undefined && { keyId: job.keyId }),
      },
      `job accepted: ${job.jobType}`,
    );
    this.deps.send({ type: 'job.accepted', id: randomUUID(), jobId: job.jobId });
    this.updateGauges();
    const task = this.queue.add(() => this.run(entry, job, handler, params)).catch((err: unknown) => {
      this.deps.log.error({ jobId: job.jobId, err }, 'job runner failed');
    });
    this.active.add(task);
    void task.finally(() => this.active.delete(task));
  }

  private remember(entry: JobEntry): void {
    this.table.set(entry.jobId, entry);
    this.store(entry);
  }

  /** Accounts for a stored answer and keeps the table within its time, count and byte bounds. */
  private store(entry: JobEntry): void {
    if (entry.answer && entry.answerBytes === undefined) {
      entry.answerBytes = Buffer.byteLength(JSON.stringify(entry.answer));
      this.storedBytes += entry.answerBytes;
    }
    const now = this.now();
    const over = () => this.table.size > DEDUPE_MAX_ENTRIES || this.storedBytes > DEDUPE_MAX_BYTES;
    if (!over() && now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    const forget = (id: string, e: JobEntry) => {
      this.storedBytes -= e.answerBytes ?? 0;
      this.table.delete(id);
    };
    const cutoff = now - DEDUPE_TTL_MS;
    for (const [id, e] of this.table) if (e.state === 'finished' && (e.finishedAt ?? 0) < cutoff) forget(id, e);
    // Still over a bound: forget the oldest finished jobs (Map iterates in insertion order).
    for (const [id, e] of this.table) {
      if (!over()) break;
      if (e.state === 'finished') forget(id, e);
    }
  }

  // ---------------------------------------------------------------------------------
  // Execution

  private async run(entry: JobEntry, job: JobFrame, handler: JobHandler, params: unknown): Promise<void> {
    if (entry.state === 'finished') return; // cancelled while queued
    const { log } = this.deps;
    const jobLog = log.child({ jobId: job.jobId, jobType: job.jobType, integrationId: job.integration.id });
    if (Date.parse(job.notAfter) < this.now() - CLOCK_SKEW_MS) {
      this.finish(entry, jobLog, 'failed', 0, { error: { code: 'JOB_EXPIRED', message: `notAfter ${job.notAfter} passed while the job was queued`, retryable: false } });
      return;
    }
    entry.state = 'running';
    this.updateGauges();
    jobLog.info({ event: 'job.start', attempt: job.attempt }, `job started: ${job.jobType}`);

    let seq = 0;
    let lastProgress = 0;
    const signal = entry.controller.signal;
    const ctx: JobContext<unknown> = {
      jobId: job.jobId,
      jobType: job.jobType,
      attempt: job.attempt,
      integration: job.integration,
      params,
      signal,
      log: jobLog,
      config: this.deps.config,
      progress: (phase, done, total) => {
        const t = this.now();
        if (t - lastProgress < PROGRESS_MIN_INTERVAL_MS && (total === undefined || done < total)) return;
        lastProgress = t;
        this.deps.send({ type: 'job.progress', id: randomUUID(), jobId: job.jobId, phase, done, ...(total !== undefined && { total }) });
      },
      emitBatch: async (entities: Entity[], cursor?: string, entitiesJson?: string) => {
        if (entities.length > MAX_BATCH_ENTITIES) throw new Error(`a batch holds at most ${MAX_BATCH_ENTITIES} entities`);
        if (entry.state === 'finished') throw new DOMException('job already finished', 'AbortError');
        const frame: SyncBatchFrame = { type: 'sync.batch', id: randomUUID(), jobId: job.jobId, seq: seq++, entities, ...(cursor !== undefined && { cursor }) };
        if (entitiesJson !== undefined) preEncodeBatch(frame, entitiesJson);
        this.deps.send(frame);
        await this.deps.outbox.waitForWindow(job.jobId, signal);
      },
    };

    const { outcome, failure, durationMs, stats } = await execute(handler, ctx, this.now);
    if ((entry.state as JobState) === 'finished') return; // answered already (shutdown gave up waiting)
    if (failure === undefined && !outcome?.cancelled) {
      this.finish(entry, jobLog, 'succeeded', durationMs, { output: outcome?.output, stats, ...(outcome?.warning && { warning: outcome.warning }) });
    } else if (outcome?.cancelled || (signal.aborted && isAbortError(failure))) {
      this.finish(entry, jobLog, 'cancelled', durationMs, {
        output: outcome?.output,
        stats,
        error: { code: 'JOB_CANCELLED', message: this.cancelMessage(entry), retryable: true },
      });
    } else {
      if (!(failure instanceof Error && 'code' in failure)) jobLog.error({ err: failure }, 'job failed with an unclassified error');
      this.finish(entry, jobLog, 'failed', durationMs, { stats, error: toJobError(failure) });
    }
  }

  private cancelMessage(entry: JobEntry): string {
    return entry.cancelReason === 'shutdown'
      ? 'cancelled because the connector is shutting down; AWS is as it was before the job'
      : ERROR_CODES.JOB_CANCELLED.meaning;
  }

  private finish(
    entry: JobEntry,
    jobLog: Logger,
    status: JobResultFrame['status'],
    durationMs: number,
    body: { output?: unknown; stats?: Record<string, unknown>; error?: JobError; warning?: JobOutcome['warning'] },
  ): void {
    const frame: JobResultFrame = {
      type: 'job.result',
      id: randomUUID(),
      jobId: entry.jobId,
      status,
      ...(body.output !== undefined && { output: body.output }),
      ...(body.error !== undefined && { error: body.error }),
      stats: body.stats ?? { durationMs },
    };
    if (Buffer.byteLength(JSON.stringify(frame)) > MAX_FRAME_BYTES - 4096) {
      // A result that cannot travel in one frame would be stuck in the outbox forever:
      // send its status, error and stats, and say the output was too large.
      jobLog.error({ code: 'INTERNAL_ERROR' }, 'job output exceeds one frame; sending the result without it');
      delete frame.output;
      frame.output = { outputTooLarge: true };
    }
    entry.state = 'finished';
    entry.answer = frame;
    entry.finishedAt = this.now();
    this.store(entry);
    const type = jobTypeLabel(entry.jobType);
    this.deps.metrics.jobsCompleted.inc({ type, status });
    this.deps.metrics.jobDuration.observe({ type, status }, durationMs / 1000);
    const level = status === 'succeeded' ? (body.warning ? 'warn' : 'info') : status === 'cancelled' ? 'warn' : 'error';
    jobLog[level](
      {
        audit: true,
        event: 'job.result',
        status,
        durationMs,
        ...(body.error && { code: body.error.code, retryable: body.error.retryable }),
        stats: frame.stats,
        ...body.warning?.fields,
      },
      body.warning?.message ?? `job ${status}${body.error ? `: ${body.error.code}: ${body.error.message}` : ''}`,
    );
    this.deps.send(frame);
    this.updateGauges();
  }

  private onCancel(raw: Record<string, unknown>): void {
    const parsed = jobCancelFrame.safeParse(raw);
    if (!parsed.success) return this.protocolError(raw, describeIssues(parsed.error));
    const entry = this.table.get(parsed.data.jobId);
    if (!entry || entry.state === 'finished') {
      this.deps.log.debug({ jobId: parsed.data.jobId }, 'job.cancel for a job that is not running');
      return;
    }
    this.cancel(entry, 'control-plane');
  }

  private cancel(entry: JobEntry, why: 'control-plane' | 'shutdown'): void {
    entry.cancelReason = why;
    if (entry.state === 'queued') {
      const jobLog = this.deps.log.child({ jobId: entry.jobId, jobType: entry.jobType });
      this.finish(entry, jobLog, 'cancelled', 0, { error: { code: 'JOB_CANCELLED', message: this.cancelMessage(entry), retryable: true } });
      return;
    }
    this.deps.log.info({ jobId: entry.jobId, event: 'job.cancel', why }, 'cancelling job');
    entry.controller.abort(new DOMException(`cancelled (${why})`, 'AbortError'));
  }

  private updateGauges(): void {
    let running = 0;
    let queued = 0;
    for (const e of this.table.values()) {
      if (e.state === 'running') running++;
      else if (e.state === 'queued') queued++;
    }
    this.deps.metrics.jobsRunning.set(running);
    this.deps.metrics.jobsQueued.set(queued);
  }

  // ---------------------------------------------------------------------------------
  // Shutdown (docs/protocol.md, "Shutdown"): stop taking jobs, let running ones finish within the grace period,
  // cancel the rest; a job that does not settle after its abort is reported as such.

  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    for (const e of this.table.values()) if (e.state === 'queued') this.cancel(e, 'shutdown');
    if (await this.settled(graceMs)) return;
    const running = [...this.table.values()].filter((e) => e.state === 'running');
    this.deps.log.warn({ event: 'drain.grace_expired', jobs: running.map((e) => e.jobId) }, `grace period over: cancelling ${running.length} running job(s)`);
    for (const e of running) this.cancel(e, 'shutdown');
    if (await this.settled(this.deps.abortSettleMs ?? ABORT_SETTLE_MS)) return;
    for (const e of this.table.values()) {
      if (e.state !== 'running') continue;
      const jobLog = this.deps.log.child({ jobId: e.jobId, jobType: e.jobType });
      this.finish(e, jobLog, 'failed', 0, {
        error: { code: 'SHUTDOWN_INTERRUPTED', message: ERROR_CODES.SHUTDOWN_INTERRUPTED.meaning, retryable: true },
      });
    }
  }

  get isDraining(): boolean {
    return this.draining;
  }

  private async settled(ms: number): Promise<boolean> {
    if (this.active.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const done = Promise.allSettled([...this.active]).then(() => true as const);
    const result = await Promise.race([done, timeout]);
    clearTimeout(timer);
    return result && this.active.size === 0 ? true : result;
  }
}
