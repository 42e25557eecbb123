// The connector's own account rules, shared by every kind: never an excluded account,
// never the organization's management account without allowManagementAccount.
import { DescribeOrganizationCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { ConnectorError } from '../errors.js';
import { sharedFact } from './context.js';
import type { AccessContext } from './types.js';

const ORG_TTL_MS = 10 * 60_000;

/**
 * The organization the integration's identity is in, or undefined when it is in none.
 * Read from AWS (DescribeOrganization), not inferred from the role's account: a role in a
 * delegated administrator account is not in the management account.
 */
export function organizationOf(ctx: AccessContext): Promise<{ id: string; managementAccountId: string } | undefined> {
  const i = ctx.integration;
  return sharedFact(ctx, `org|${i.roleArn ?? ''}|${i.profile ?? ''}`, ORG_TTL_MS, async () => {
    const org = await ctx.session.managementClient(OrganizationsClient);
    try {
      const o = (await org.send(new DescribeOrganizationCommand({}))).Organization;
      return o?.Id && o.MasterAccountId ? { id: o.Id, managementAccountId: o.MasterAccountId } : undefined;
    } catch (err) {
      if (err instanceof ConnectorError && err.code === 'AWS_ORGANIZATION_UNAVAILABLE') return undefined;
      throw err;
    }
  });
}

/**
 * Refuses access that lands in an account the integration excludes, or in the
 * organization's management account unless the integration allows it: that account
 * controls the whole organization, so access there is never granted by accident.
 */
export async function refuseProtectedAccounts(ctx: AccessContext, accountIds: readonly string[], what: string): Promise<void> {
  const excluded = accountIds.filter((a) => ctx.integration.excludeAccountIds.includes(a));
  if (excluded.length > 0) {
    throw new ConnectorError('ACCESS_REFUSED', `${what} reaches account ${excluded.join(', ')}, which the integration excludes; remove it from excludeAccountIds to grant there`);
  }
  if (ctx.integration.allowManagementAccount || accountIds.length === 0) return;
  const mgmt = (await organizationOf(ctx))?.managementAccountId;
  if (mgmt !== undefined && accountIds.includes(mgmt)) {
    throw new ConnectorError('ACCESS_REFUSED', `${what} reaches the management account ${mgmt}; set allowManagementAccount on the integration to grant access there`);
  }
}
