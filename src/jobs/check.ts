// The `check` job: the same integration report `access-connector doctor` prints, minus
// the control-plane probe (the job arrived, so the control plane is reachable).
import * as z from 'zod';
import type { AwsRuntime } from '../aws/runtime.js';
import { runAwsChecks } from '../check/aws-checks.js';
import { makeReport } from '../check/report.js';
import { admitIntegration } from '../access/policy.js';
import type { JobHandler } from './types.js';

const params = z.object({ sampleAccounts: z.number().int().min(1).max(50).default(3) }).loose();

export function checkJob(aws: AwsRuntime): JobHandler<z.infer<typeof params>> {
  return {
    jobType: 'check',
    params,
    admit({ integration, config }) {
      const pinned = admitIntegration(config.policy, integration);
      return pinned.ok ? undefined : { reason: 'policy', message: `policy rule ${pinned.rule}: ${pinned.message}` };
    },
    async run(ctx) {
      const items = await runAwsChecks(aws.session(ctx.integration), {
        sampleAccounts: ctx.params.sampleAccounts,
        ...(ctx.config.ledgerTable !== undefined && { ledgerTable: ctx.config.ledgerTable }),
      });
      const report = makeReport(items, ctx.integration.id);
      const failed = items.filter((i) => i.status === 'fail').map((i) => i.id);
      return {
        output: report,
        stats: { checks: items.length, failed: failed.length },
        ...(failed.length > 0 && {
          warning: { message: `check job done: ${failed.length} check${failed.length === 1 ? '' : 's'} failed (${failed.join(', ')}); see the report`, fields: { failedChecks: failed } },
        }),
      };
    },
  };
}
