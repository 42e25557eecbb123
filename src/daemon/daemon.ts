// Wires the connection, outbox, dispatcher and health server into the daemon, and owns
// its lifecycle: starting → running → draining → stopped (transitions only forward).
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import { ACKED_TYPES, PROTOCOL_VERSION, type OutboundFrame } from '../protocol/messages.js';
import { randomUUID } from 'node:crypto';
import { capabilitiesOf } from '../jobs/registry.js';
import type { JobHandler, LazyJobHandler } from '../jobs/types.js';
import { VERSION } from '../version.js';
import { Connection, DEFAULT_TIMING, type Timing } from './connection.js';
import { Dispatcher } from './dispatcher.js';
import { HealthServer, type Readiness } from './health.js';
import { Metrics } from './metrics.js';
import { Outbox } from './outbox.js';

export type DaemonState = 'starting' | 'running' | 'draining' | 'stopped';

/** After the jobs are done, how long we wait for the control plane to ack the outbox. */
const OUTBOX_FLUSH_MS = 3_000;

export interface DaemonOptions {
  config: Config;
  /** Shared with the AWS layer so its calls show up on /metrics. */
  metrics?: Metrics;
  log: Logger;
  handlers: readonly (JobHandler | LazyJobHandler)[];
  timing?: Partial<Timing>;
  random?: () => number;
  abortSettleMs?: number;
  outboxFlushMs?: number;
  /** Revokes expired grants from the ledger, with or without a control plane. */
  sweeper?: { start(): void; stop(): Promise<void> };
}

export class Daemon {
  readonly metrics: Metrics;
  readonly outbox: Outbox;
  readonly connection: Connection;
  readonly dispatcher: Dispatcher;
  private readonly health: HealthServer;
  private stateValue: DaemonState = 'starting';
  private shutdownPromise: Promise<void> | undefined;
  healthPort = 0;

  constructor(private readonly opts: DaemonOptions) {
    const { config, log, handlers } = opts;
    this.metrics = opts.metrics ?? new Metrics();
    this.outbox = new Outbox({
      resendAfterMs: opts.timing?.ackResendMs ?? DEFAULT_TIMING.ackResendMs,
      onStall: (jobId, frames) => {
        // Not connected: the next welcome resends the whole outbox anyway.
        if (!this.connection.isReady || frames.length === 0) return;
        log.warn(
          { event: 'outbox.resend', jobId, frames: frames.length },
          `no ack for ${frames.length} frame(s) of job ${jobId} at a full window; resending them on the same connection`,
        );
        for (const f of frames) this.connection.send(f);
      },
    });
    const caps = capabilitiesOf(handlers);
    this.connection = new Connection({
      config,
      log,
      version: VERSION,
      ...(opts.timing !== undefined && { timing: opts.timing }),
      ...(opts.random !== undefined && { random: opts.random }),
      hello: () => ({
        type: 'hello',
        id: randomUUID(),
        connectorId: config.connectorId,
        version: VERSION,
        protocol: PROTOCOL_VERSION,
        capabilities: caps,
        maxConcurrentJobs: config.maxConcurrentJobs,
        running: this.dispatcher.unfinishedJobIds(),
      }),
      onFrameIn: (t) => this.metrics.frame('in', t),
      onFrameOut: (t) => this.metrics.frame('out', t),
    });
    this.dispatcher = new Dispatcher({
      config,
      log,
      metrics: this.metrics,
      outbox: this.outbox,
      handlers,
      send: (f) => this.send(f),
      ...(opts.abortSettleMs !== undefined && { abortSettleMs: opts.abortSettleMs }),
    });
    this.health = new HealthServer(this.metrics, () => this.readiness());

    this.connection.on('state', (s) => {
      this.metrics.setConnectionState(s);
      if (s === 'connecting') this.metrics.connectionAttempts.inc();
      this.metrics.ready.set(this.readiness().ready ? 1 : 0);
    });
    this.connection.on('ready', (welcome) => {
      this.outbox.setWindow(welcome.window);
      // docs/protocol.md, "Order": hello → welcome → the outbox in its original order → new frames.
      for (const frame of this.outbox.frames()) this.connection.send(frame);
      this.metrics.ready.set(this.readiness().ready ? 1 : 0);
    });
    this.connection.on('frame', (raw, type) => {
      try {
        this.dispatcher.handle(raw, type);
      } catch (err) {
        // A bug must not take the daemon down with it; the frame is dropped and reported.
        log.error({ err, code: 'INTERNAL_ERROR', type }, 'failed to handle a frame');
      }
    });
    let sessions = 0;
    this.connection.on('ready', () => {
      if (sessions++ > 0) this.metrics.reconnects.inc();
    });
  }

  get state(): DaemonState {
    return this.stateValue;
  }

  private setState(s: DaemonState): void {
    const order: DaemonState[] = ['starting', 'running', 'draining', 'stopped'];
    if (order.indexOf(s) <= order.indexOf(this.stateValue)) return;
    this.stateValue = s;
    this.opts.log.info({ event: 'daemon.state', state: s }, `daemon ${s}`);
    this.metrics.ready.set(this.readiness().ready ? 1 : 0);
  }

  readiness(): Readiness {
    if (this.stateValue === 'draining' || this.stateValue === 'stopped') return { ready: false, reason: this.stateValue };
    if (this.connection.state === 'auth_rejected') return { ready: false, reason: 'control plane rejected the token' };
    if (!this.connection.isReady) return { ready: false, reason: `control plane connection is ${this.connection.state}` };
    return { ready: true, reason: 'connected' };
  }

  /** Acked frames go through the outbox (kept until acked); the rest are sent if possible. */
  private send(frame: OutboundFrame): void {
    if (ACKED_TYPES.has(frame.type)) {
      this.outbox.add(frame);
      this.metrics.outboxDepth.set(this.outbox.size);
    }
    this.connection.send(frame);
  }

  async start(): Promise<void> {
    const { config, log } = this.opts;
    this.healthPort = await this.health.listen(config.healthPort, config.healthHost);
    log.info(
      {
        event: 'daemon.start',
        version: VERSION,
        controlPlane: `${config.controlPlaneUrl.protocol}//${config.controlPlaneUrl.host}`,
        healthPort: this.healthPort,
        maxConcurrentJobs: config.maxConcurrentJobs,
        jobTypes: capabilitiesOf(this.opts.handlers).jobTypes,
        signedJobs: config.jobKeys.length > 0,
        pinned: config.pins.length > 0,
        proxy: config.proxy !== undefined,
        policyFile: config.policyFile ?? null,
        // Where the policy came from: the file, the CONNECTOR_POLICY variable, or none.
        policy: config.policyFile !== undefined ? 'file' : config.policy !== undefined ? 'CONNECTOR_POLICY' : null,
        ledger: config.ledgerTable ?? null,
        sweeper: this.opts.sweeper !== undefined,
      },
      `access-connector ${VERSION} starting: ${[
        config.ledgerTable ? `grant ledger ${config.ledgerTable}` : 'no grant ledger',
        this.opts.sweeper ? `expiry sweeper every ${config.grantSweepIntervalSeconds} s` : 'no expiry sweeper',
        config.policyFile ? `policy file ${config.policyFile}` : config.policy ? 'policy from CONNECTOR_POLICY' : 'no policy file',
      ].join(', ')}`,
    );
    const jobTypes = capabilitiesOf(this.opts.handlers).jobTypes;
    if (!config.ledgerTable && (jobTypes.includes('grant') || jobTypes.includes('revoke'))) {
      // Without the ledger nothing is granted and nothing expires: say it once, at start.
      log.warn(
        { event: 'daemon.no_ledger', code: 'LEDGER_UNAVAILABLE' },
        'grant and revoke jobs will fail LEDGER_UNAVAILABLE: LEDGER_TABLE is not set, so there is no grant ledger and no expiry sweeper. ' +
          'To grant access, deploy with AccessMode=manage (the templates then create the table and set LEDGER_TABLE); a read-only install can ignore this.',
      );
    }
    this.setState('running');
    this.connection.start();
    this.opts.sweeper?.start();
  }

  /** SIGHUP: read the token again and, if the connection is waiting, dial at once. */
  reload(): void {
    const r = this.connection.retryNow();
    const what = r === 'dialing' ? 'connecting now with the token read again'
      : r === 'connected' ? 'connected: the token is read again on the next connection'
        : 'a connection attempt is under way; it reads the token file itself';
    this.opts.log.info({ event: 'connection.retry_now', outcome: r }, `SIGHUP: ${what}`);
  }

  /** The drain of docs/protocol.md, "Shutdown": idempotent; resolves when the daemon has stopped. */
  shutdown(reason: string): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(reason);
    return this.shutdownPromise;
  }

  private async doShutdown(reason: string): Promise<void> {
    const { config, log } = this.opts;
    log.info({ event: 'daemon.drain', reason, running: this.dispatcher.unfinishedJobIds() }, `draining (${reason})`);
    this.setState('draining');
    // The sweeper stops taking new grants at once; a revoke it is in the middle of is
    // finished (it never stops half-way), within the same grace as jobs.
    await Promise.all([this.dispatcher.drain(config.shutdownGraceSeconds * 1000), this.opts.sweeper?.stop()]);
    if (this.outbox.size > 0 && this.connection.isReady) {
      const flushed = await this.outbox.drained(this.opts.outboxFlushMs ?? OUTBOX_FLUSH_MS);
      if (!flushed) log.warn({ event: 'daemon.unflushed', frames: this.outbox.size }, `${this.outbox.size} frame(s) not acknowledged before exit`);
    } else if (this.outbox.size > 0) {
      log.warn({ event: 'daemon.unflushed', frames: this.outbox.size }, `${this.outbox.size} frame(s) not delivered: control plane not connected`);
    }
    await this.connection.close(1001, 'going away');
    await this.health.close();
    this.setState('stopped');
  }
}
