// The regions a sync covers when the integration names none (docs/protocol.md "Integration": "empty regions →
// every enabled region"): the management identity's enabled regions, from the Account API.
// Opt-in regions a member account has not enabled show up there as AWS_REGION_DISABLED
// units (src/sync/sources/ec2.ts), reported as skipped.
import { AccountClient, ListRegionsCommand } from '@aws-sdk/client-account';
import { paginate } from './paginate.js';
import type { IntegrationSession } from './session.js';

/** ListRegions pages hold at most 50 regions (Account API reference). */
const LIST_REGIONS_PAGE = 50;

/** The AWS actions enabledRegions() calls, for the least-privilege test and docs/permissions.md. */
export const ENABLED_REGIONS_ACTIONS = ['account:ListRegions'] as const;

/** Regions enabled in the management (or single) account, sorted: opted-in ones and those enabled by default. */
export async function enabledRegions(session: IntegrationSession): Promise<string[]> {
  // Account Management is a global service; the SDK sends it to the partition's global endpoint whatever the region.
  const account = await session.managementClient(AccountClient);
  const regions = new Set<string>();
  for await (const page of paginate(async (token) => {
    const r = await account.send(new ListRegionsCommand({ RegionOptStatusContains: ['ENABLED', 'ENABLED_BY_DEFAULT'], MaxResults: LIST_REGIONS_PAGE, NextToken: token }));
    return { items: r.Regions, next: r.NextToken };
  })) {
    for (const r of page) if (r.RegionName) regions.add(r.RegionName);
  }
  return [...regions].sort();
}
