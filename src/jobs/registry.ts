// The job handlers this build ships, by jobType. A jobType with no handler is answered
// job.rejected `unsupported`. Later capabilities add one line each here.
import type { AwsRuntime } from '../aws/runtime.js';
import type { Ledger } from '../access/ledger.js';
import { KINDS } from '../access/registry.js';
import { checkJob } from './check.js';
import { grantJob } from './grant.js';
import { revokeJob } from './revoke.js';
import { syncJob } from './sync.js';
import { SOURCES } from '../sync/registry.js';
import type { Capabilities, JobHandler } from './types.js';

export interface HandlerDeps {
  aws: AwsRuntime;
  /** The grant ledger (LEDGER_TABLE); grant and revoke fail LEDGER_UNAVAILABLE without it. */
  ledger?: Ledger;
}

export function defaultHandlers(deps: HandlerDeps): JobHandler[] {
  return [
    checkJob(deps.aws) as JobHandler,
    syncJob(deps.aws) as JobHandler,
    grantJob(deps.aws, deps.ledger) as JobHandler,
    revokeJob(deps.aws, deps.ledger) as JobHandler,
  ];
}

export function capabilitiesOf(handlers: readonly JobHandler[]): Capabilities {
  const syncs = handlers.some((h) => h.jobType === 'sync');
  const grants = handlers.some((h) => h.jobType === 'grant');
  return { jobTypes: handlers.map((h) => h.jobType), accessKinds: grants ? KINDS.map((k) => k.name) : [], entityKinds: syncs ? [...new Set(SOURCES.flatMap((s) => s.entityKinds))] : [] };
}
