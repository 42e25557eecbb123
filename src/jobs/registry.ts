// The job handlers this build ships, by jobType. A jobType with no handler is answered
// job.rejected `unsupported`. Later capabilities add one line each here.
import type { AwsRuntime } from '../aws/runtime.js';
import { checkJob } from './check.js';
import { syncJob } from './sync.js';
import { SOURCES } from '../sync/registry.js';
import type { Capabilities, JobHandler } from './types.js';

export interface HandlerDeps {
  aws: AwsRuntime;
}

export function defaultHandlers(deps: HandlerDeps): JobHandler[] {
  return [checkJob(deps.aws) as JobHandler, syncJob(deps.aws) as JobHandler];
}

export function capabilitiesOf(handlers: readonly JobHandler[]): Capabilities {
  const syncs = handlers.some((h) => h.jobType === 'sync');
  return { jobTypes: handlers.map((h) => h.jobType), accessKinds: [], entityKinds: syncs ? [...new Set(SOURCES.flatMap((s) => s.entityKinds))] : [] };
}
