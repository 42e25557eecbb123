// The `revoke` job: removes what the grant with the same grantId created, and only that
// (src/access/run-access.ts). Removing access stays possible under every policy rule
// except read-only mode, pins and disabled kinds.
import type { AwsRuntime } from '../aws/runtime.js';
import { admitAccess } from '../access/policy.js';
import { accessParamsSchema } from '../access/params.js';
import { runRevoke } from '../access/run-access.js';
import type { Ledger } from '../access/ledger.js';
import type { AccessRequest } from '../access/types.js';
import type { JobHandler } from './types.js';

export function revokeJob(aws: AwsRuntime, ledger: Ledger | undefined, now: () => number = Date.now): JobHandler<AccessRequest> {
  return {
    jobType: 'revoke',
    params: accessParamsSchema,
    admit({ integration, params, config }) {
      const v = admitAccess(config.policy, { jobType: 'revoke', integration, request: params, now: now() });
      return v.ok ? undefined : { reason: 'policy', message: `policy rule ${v.rule}: ${v.message}` };
    },
    async run(ctx) {
      const output = await runRevoke(
        { aws, ledger, config: ctx.config, log: ctx.log, now },
        { jobId: ctx.jobId, integration: ctx.integration, request: ctx.params, signal: ctx.signal, log: ctx.log, origin: 'job' },
      );
      return { output, stats: { heldBy: output.heldBy ?? 0 } };
    },
  };
}
