// The `sync` job: streams the integration's estate as sync.batch frames (docs/protocol.md "Job params", "Entity").
import type { AwsRuntime } from '../aws/runtime.js';
import { checkResumeCursor, runSync, syncParams, type SyncParams } from '../sync/run-sync.js';
import { SOURCES } from '../sync/registry.js';
import { enabledRegions } from '../aws/regions.js';
import { admitIntegration } from '../access/policy.js';
import type { JobHandler } from './types.js';

export function syncJob(aws: AwsRuntime): JobHandler<SyncParams> {
  return {
    jobType: 'sync',
    params: syncParams,
    admit({ integration, params, config }) {
      // The customer's pins apply to reading too: a control plane cannot make the
      // connector read through a role the customer did not approve.
      const pinned = admitIntegration(config.policy, integration);
      if (!pinned.ok) return { reason: 'policy', message: `policy rule ${pinned.rule}: ${pinned.message}` };
      if (params.mode === 'delta' && params.since === undefined) return { reason: 'invalid', message: 'params.since is required when mode is delta' };
      const bad = checkResumeCursor(integration.id, params);
      return bad ? { reason: 'invalid', message: `params.resumeFrom: ${bad}` } : undefined;
    },
    run: (ctx) =>
      runSync(ctx, {
        aws,
        sources: SOURCES,
        regions: (c) => enabledRegions(aws.session(c.integration)),
      }),
  };
}
