// The outbox holds every acked frame (docs/protocol.md, "Acks and the outbox") until an `ack` names it, in
// the order it was first produced, so a new connection can resend it in that order.
// It also provides the per-job window: a sync may have at most `window` unacked
// batches, which is what bounds memory while the control plane is slow or away.
//
// An ack can be lost while the connection stays up (the control plane dropped it, or
// crashed between storing and acking). A sync waiting at a full window would then wait
// until the next reconnect, possibly forever; so after `resendAfterMs` without the window
// opening, the job's unacked frames are handed to `onStall` to be sent again (same ids:
// the control plane dedupes them and acks each copy), and again every interval after.
import type { OutboundFrame } from '../protocol/messages.js';

export interface OutboxOptions {
  /** How long a job may wait at a full window before its unacked frames are resent. */
  resendAfterMs?: number;
  onStall?: (jobId: string, frames: OutboundFrame[]) => void;
}

interface Waiter {
  jobId: string;
  resolve: () => void;
}

export class Outbox {
  private readonly pending = new Map<string, OutboundFrame>();
  private readonly batchesByJob = new Map<string, number>();
  private waiters: Waiter[] = [];
  private emptyWaiters: Array<() => void> = [];
  window = 16;

  constructor(private readonly opts: OutboxOptions = {}) {}

  get size(): number {
    return this.pending.size;
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  add(frame: OutboundFrame): void {
    if (this.pending.has(frame.id)) return;
    this.pending.set(frame.id, frame);
    if (frame.type === 'sync.batch') this.batchesByJob.set(frame.jobId, (this.batchesByJob.get(frame.jobId) ?? 0) + 1);
  }

  /** Removes the named frames; returns how many were pending. Unknown ids are ignored. */
  ack(ids: readonly string[]): number {
    let n = 0;
    for (const id of ids) {
      const frame = this.pending.get(id);
      if (!frame) continue;
      this.pending.delete(id);
      n++;
      if (frame.type === 'sync.batch') {
        const left = (this.batchesByJob.get(frame.jobId) ?? 1) - 1;
        if (left <= 0) this.batchesByJob.delete(frame.jobId);
        else this.batchesByJob.set(frame.jobId, left);
      }
    }
    if (n > 0) this.wake();
    return n;
  }

  /** Frames in their original order. */
  frames(): OutboundFrame[] {
    return [...this.pending.values()];
  }

  unackedBatches(jobId: string): number {
    return this.batchesByJob.get(jobId) ?? 0;
  }

  /** The job's unacked frames, in their original order. */
  framesOf(jobId: string): OutboundFrame[] {
    return this.frames().filter((f) => 'jobId' in f && f.jobId === jobId);
  }

  /**
   * Resolves once the job has fewer than `window` unacked batches, or rejects on abort.
   * While it waits, onStall gets the job's unacked frames every `resendAfterMs`.
   */
  waitForWindow(jobId: string, signal?: AbortSignal): Promise<void> {
    if (this.unackedBatches(jobId) < this.window) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const { onStall, resendAfterMs } = this.opts;
      const resendTimer =
        onStall && resendAfterMs !== undefined && resendAfterMs > 0
          ? setInterval(() => onStall(jobId, this.framesOf(jobId)), resendAfterMs).unref()
          : undefined;
      const waiter: Waiter = {
        jobId,
        resolve: () => {
          clearInterval(resendTimer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        clearInterval(resendTimer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal?.reason ?? new DOMException('aborted', 'AbortError'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Resolves when every frame has been acked, or after `timeoutMs`; tells which. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.pending.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.emptyWaiters = this.emptyWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.emptyWaiters.push(done);
    });
  }

  /** Called when the window size changes (a new `welcome`). */
  setWindow(window: number): void {
    this.window = window;
    this.wake();
  }

  private wake(): void {
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (this.unackedBatches(w.jobId) < this.window) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
    if (this.pending.size === 0 && this.emptyWaiters.length > 0) {
      const ws = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const w of ws) w();
    }
  }
}
