// Runs a handler and measures it: the one path shared by the daemon's dispatcher and the
// local commands (`access-connector sync`), so both report the same figures the same way.
import { newAwsCallStats, runInAwsScope } from '../aws/clients.js';
import type { JobContext, JobHandler, JobOutcome } from './types.js';

export interface Execution {
  outcome?: JobOutcome;
  /** What the handler threw, if it threw. */
  failure?: unknown;
  durationMs: number;
  /** durationMs, cpuMs, awsCalls, awsThrottles, then the handler's own figures. */
  stats: Record<string, unknown>;
}

export async function execute<P>(handler: JobHandler<P>, ctx: JobContext<P>, now: () => number = Date.now): Promise<Execution> {
  const started = now();
  const cpuStart = process.cpuUsage();
  const aws = newAwsCallStats();
  let outcome: JobOutcome | undefined;
  let failure: unknown;
  try {
    // Every AWS call the job makes is cancelled by its signal and counted in its stats.
    outcome = await runInAwsScope({ signal: ctx.signal, stats: aws }, () => handler.run(ctx));
  } catch (err) {
    failure = err;
  }
  const cpu = process.cpuUsage(cpuStart);
  const durationMs = now() - started;
  const stats = { durationMs, cpuMs: Math.round((cpu.user + cpu.system) / 1000), awsCalls: aws.calls, awsThrottles: aws.throttles, ...(outcome?.stats ?? {}) };
  return { ...(outcome !== undefined && { outcome }), ...(failure !== undefined && { failure }), durationMs, stats };
}
