// The `sync` job: streams the integration's estate as sync.batch frames (protocol §5–6).
import type { AwsRuntime } from '../aws/runtime.js';
import { checkResumeCursor, runSync, syncParams, type SyncParams } from '../sync/run-sync.js';
import { SOURCES } from '../sync/registry.js';
import { enabledRegions } from '../aws/regions.js';
import type { JobHandler } from './types.js';

export function syncJob(aws: AwsRuntime): JobHandler<SyncParams> {
  return {
    jobType: 'sync',
    params: syncParams,
    admit({ integration, params }) {
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
