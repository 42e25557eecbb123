// The job handlers this build ships, by jobType. A jobType with no handler is answered
// job.rejected `unsupported`. Later capabilities add one line each here.
//
// Each handler module is imported with its type's first job: the sync sources, the access
// kinds and the AWS SDK clients behind them cost tens of megabytes a daemon waiting for
// work does not need (docs/performance.md, "Memory").
import type { AwsRuntime } from '../aws/runtime.js';
import type { Ledger } from '../access/ledger.js';
import { ACCESS_KINDS, ENTITY_KINDS } from '../protocol/messages.js';
import type { Capabilities, JobHandler, LazyJobHandler } from './types.js';

export interface HandlerDeps {
  aws: AwsRuntime;
  /** The grant ledger (LEDGER_TABLE); grant and revoke fail LEDGER_UNAVAILABLE without it. */
  ledger?: Ledger;
}

export function defaultHandlers(deps: HandlerDeps): LazyJobHandler[] {
  return [
    { jobType: 'check', load: async () => (await import('./check.js')).checkJob(deps.aws) as JobHandler },
    { jobType: 'sync', load: async () => (await import('./sync.js')).syncJob(deps.aws) as JobHandler },
    { jobType: 'grant', load: async () => (await import('./grant.js')).grantJob(deps.aws, deps.ledger) as JobHandler },
    { jobType: 'revoke', load: async () => (await import('./revoke.js')).revokeJob(deps.aws, deps.ledger) as JobHandler },
  ];
}

/**
 * hello's capabilities. Every access kind and entity kind of the protocol is implemented
 * (test/integration/lazy-loading.test.ts compares these lists with src/access/registry.ts
 * and src/sync/registry.ts), so hello needs neither registry loaded.
 */
export function capabilitiesOf(handlers: readonly (JobHandler | LazyJobHandler)[]): Capabilities {
  const syncs = handlers.some((h) => h.jobType === 'sync');
  const grants = handlers.some((h) => h.jobType === 'grant');
  return { jobTypes: handlers.map((h) => h.jobType), accessKinds: grants ? [...ACCESS_KINDS] : [], entityKinds: syncs ? [...ENTITY_KINDS] : [] };
}
