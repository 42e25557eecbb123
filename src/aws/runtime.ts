// The process-wide AWS machinery: one client factory (so rate-limit buckets are shared
// by every job acting in the same account) and one credential broker per STS region (so
// role sessions are reused across jobs until they near expiry).
import type { Logger } from '../log.js';
import type { Integration } from '../protocol/messages.js';
import { VERSION } from '../version.js';
import { AwsClients, type AwsMetricsSink } from './clients.js';
import { CredentialBroker } from './credentials.js';
import { IntegrationSession } from './session.js';

/** How long one AWS call may keep being throttled before it fails AWS_THROTTLED. */
const THROTTLE_PATIENCE_MS = 3 * 60_000;

export interface AwsRuntimeOptions {
  connectorId: string;
  /** The actions the client factory may send (AwsClientsOptions.declaredActions). */
  declaredActions: ReadonlySet<string>;
  log: Logger;
  quotaShare: number;
  quotaMultiplier?: number;
  metrics?: AwsMetricsSink;
  proxy?: URL;
  noProxy?: readonly string[];
  /** SDK attempts per call (default 8); tests lower it to reach a call's final error sooner. */
  maxAttempts?: number;
}

export class AwsRuntime {
  readonly clients: AwsClients;
  private readonly brokers = new Map<string, CredentialBroker>();

  constructor(private readonly opts: AwsRuntimeOptions) {
    this.clients = new AwsClients({
      userAgent: `access-connector/${VERSION}`,
      declaredActions: opts.declaredActions,
      quotaShare: opts.quotaShare,
      ...(opts.quotaMultiplier !== undefined && { quotaMultiplier: opts.quotaMultiplier }),
      log: opts.log,
      // A throttling storm outlasting the SDK's retries is waited out for this long.
      throttlePatienceMs: THROTTLE_PATIENCE_MS,
      ...(opts.metrics !== undefined && { metrics: opts.metrics }),
      ...(opts.proxy !== undefined && { proxy: opts.proxy }),
      ...(opts.noProxy !== undefined && { noProxy: opts.noProxy }),
      ...(opts.maxAttempts !== undefined && { maxAttempts: opts.maxAttempts }),
    });
  }

  session(integration: Integration): IntegrationSession {
    return new IntegrationSession(integration, this.clients, this.broker(integration.region));
  }

  /** The credential broker whose STS calls go to `region`. */
  broker(region: string): CredentialBroker {
    let broker = this.brokers.get(region);
    if (!broker) {
      broker = new CredentialBroker({ clients: this.clients, connectorId: this.opts.connectorId, log: this.opts.log, region });
      this.brokers.set(region, broker);
    }
    return broker;
  }

  destroy(): void {
    this.clients.destroy();
  }
}
