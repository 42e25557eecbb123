// The job handlers this build ships, by jobType. A jobType with no handler is answered
// job.rejected `unsupported`. Later capabilities add one line each here.
import type { AwsRuntime } from '../aws/runtime.js';
import { checkJob } from './check.js';
import type { Capabilities, JobHandler } from './types.js';

export interface HandlerDeps {
  aws: AwsRuntime;
}

export function defaultHandlers(deps: HandlerDeps): JobHandler[] {
  return [checkJob(deps.aws) as JobHandler];
}

export function capabilitiesOf(handlers: readonly JobHandler[]): Capabilities {
  return { jobTypes: handlers.map((h) => h.jobType), accessKinds: [], entityKinds: [] };
}
