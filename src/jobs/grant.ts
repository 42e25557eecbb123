// The `grant` job: one access kind, idempotent by grantId (src/access/run-access.ts).
import type { AwsRuntime } from '../aws/runtime.js';
import { admitAccess } from '../access/policy.js';
import { accessParamsSchema } from '../access/params.js';
import { runGrant } from '../access/run-access.js';
import type { Ledger } from '../access/ledger.js';
import type { AccessRequest } from '../access/types.js';
import type { JobHandler } from './types.js';

export function grantJob(aws: AwsRuntime, ledger: Ledger | undefined, now: () => number = Date.now): JobHandler<AccessRequest> {
  return {
    jobType: 'grant',
    params: accessParamsSchema,
    admit({ integration, params, config }) {
      const v = admitAccess(config.policy, { jobType: 'grant', integration, request: params, now: now() });
      return v.ok ? undefined : { reason: 'policy', message: `policy rule ${v.rule}: ${v.message}` };
    },
    async run(ctx) {
      const output = await runGrant({ aws, ledger, config: ctx.config, log: ctx.log, now }, { jobId: ctx.jobId, integration: ctx.integration, request: ctx.params, signal: ctx.signal, log: ctx.log });
      return { output, stats: { preExisting: output.preExisting } };
    },
  };
}
