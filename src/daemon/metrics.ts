// Prometheus metrics, on a registry of their own per daemon (so tests can run several
// daemons in one process). Label values are always from closed sets.
import { Counter, Gauge, Histogram, ProcessMetrics, Registry } from './prometheus.js';
import { CONNECTION_STATES, type ConnectionState } from './connection.js';
import { JOB_TYPES } from '../protocol/messages.js';
import type { AwsMetricsSink } from '../aws/clients.js';

const KNOWN_FRAME_TYPES = new Set([
  'hello', 'welcome', 'job', 'job.cancel', 'ack', 'error', 'job.accepted', 'job.rejected', 'job.progress', 'sync.batch', 'job.result', 'invalid',
]);
const KNOWN_JOB_TYPES = new Set<string>(JOB_TYPES);

/** Prefix of the process and Node.js metrics (src/daemon/prometheus.ts, PROCESS_METRICS). */
export const PROCESS_METRICS_PREFIX = 'access_connector_';

export function jobTypeLabel(t: string): string {
  return KNOWN_JOB_TYPES.has(t) ? t : 'other';
}

export class Metrics implements AwsMetricsSink {
  readonly registry = new Registry();
  readonly connectionState = new Gauge({ name: 'access_connector_connection_state', help: 'Current control-plane connection state (1 for the current state).', labelNames: ['state'], registers: [this.registry] });
  readonly reconnects = new Counter({ name: 'access_connector_reconnects_total', help: 'Reconnections: sessions welcomed after the first one of this process.', registers: [this.registry] });
  readonly connectionAttempts = new Counter({ name: 'access_connector_connection_attempts_total', help: 'Dials to the control plane, the first one included, whether they succeed or not.', registers: [this.registry] });
  readonly jobsReceived = new Counter({ name: 'access_connector_jobs_received_total', help: 'Job frames received, by job type and decision (accepted or the rejection reason).', labelNames: ['type', 'decision'], registers: [this.registry] });
  readonly jobsCompleted = new Counter({ name: 'access_connector_jobs_completed_total', help: 'Jobs finished, by job type and status.', labelNames: ['type', 'status'], registers: [this.registry] });
  readonly jobDuration = new Histogram({ name: 'access_connector_job_duration_seconds', help: 'Job run time, from start to result.', labelNames: ['type', 'status'], buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600], registers: [this.registry] });
  readonly jobsRunning = new Gauge({ name: 'access_connector_jobs_running', help: 'Jobs running now.', registers: [this.registry] });
  readonly jobsQueued = new Gauge({ name: 'access_connector_jobs_queued', help: 'Jobs accepted and waiting for a slot.', registers: [this.registry] });
  readonly outboxDepth = new Gauge({ name: 'access_connector_outbox_depth', help: 'Frames sent or waiting to be sent and not yet acknowledged.', registers: [this.registry] });
  readonly frames = new Counter({ name: 'access_connector_frames_total', help: 'Frames by direction and type.', labelNames: ['direction', 'type'], registers: [this.registry] });
  readonly awsCalls = new Counter({ name: 'access_connector_aws_calls_total', help: 'AWS API attempts, by service, operation and outcome (ok, throttled, error).', labelNames: ['service', 'operation', 'outcome'], registers: [this.registry] });
  readonly awsLatency = new Histogram({ name: 'access_connector_aws_call_duration_seconds', help: 'AWS API attempt latency by service.', labelNames: ['service'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15], registers: [this.registry] });
  readonly ready = new Gauge({ name: 'access_connector_ready', help: '1 when connected, welcomed and not draining.', registers: [this.registry] });

  constructor() {
    new ProcessMetrics(PROCESS_METRICS_PREFIX, this.registry);
    this.setConnectionState('idle');
  }

  setConnectionState(state: ConnectionState): void {
    for (const s of CONNECTION_STATES) this.connectionState.set({ state: s }, s === state ? 1 : 0);
  }

  call(service: string, operation: string, outcome: 'ok' | 'throttled' | 'error', seconds: number): void {
    this.awsCalls.inc({ service, operation, outcome });
    this.awsLatency.observe({ service }, seconds);
  }

  frame(direction: 'in' | 'out', type: string): void {
    this.frames.inc({ direction, type: KNOWN_FRAME_TYPES.has(type) ? type : 'unknown' });
  }
}
