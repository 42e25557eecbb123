// The outbox holds every acked frame (docs/protocol.md, "Acks and the outbox") until an `ack` names it, in
// the order it was first produced, so a new connection can resend it in that order.
// It also provides the per-job window: a sync may have at most `window` unacked
// batches, which is what bounds memory while the control plane is slow or away.
import type { OutboundFrame } from '../protocol/messages.js';

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

  /** Resolves once the job has fewer than `window` unacked batches, or rejects on abort. */
  waitForWindow(jobId: string, signal?: AbortSignal): Promise<void> {
    if (this.unackedBatches(jobId) < this.window) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        jobId,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
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
