// The job handlers this build ships, by jobType. A jobType with no handler is answered
// job.rejected `unsupported`. Later capabilities add one line each here.
import type { Capabilities, JobHandler } from './types.js';

export function defaultHandlers(): JobHandler[] {
  return [];
}

export function capabilitiesOf(handlers: readonly JobHandler[]): Capabilities {
  return { jobTypes: handlers.map((h) => h.jobType), accessKinds: [], entityKinds: [] };
}
