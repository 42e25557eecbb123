// IAM Identity Center account assignments: one unit per entered account, so an account
// whose listing fails is one failed coverage entry, not a failed sync. All calls go to
// the management account in the Identity Center region (assignments are not visible
// from the member account).
import { DescribePermissionSetCommand, ListAccountAssignmentsCommand, ListPermissionSetsProvisionedToAccountCommand, SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { ConnectorError } from '../../errors.js';
import type { IntegrationSession } from '../../aws/session.js';
import { paginate, pageSize } from '../../aws/paginate.js';
import type { Entity } from '../../protocol/messages.js';
import { ids } from '../ids.js';
import type { EntitySource, SourceContext, SyncPlan, SyncUnit } from '../types.js';
import { findInstance, ssoRegion } from './sso.js';

// Permission set names, for the assignments' human names: a permission set is provisioned
// to many accounts, so each is described once per session (job), not once per account.
// A failed lookup is dropped so another unit may try again.
const psNames = new WeakMap<IntegrationSession, Map<string, Promise<string>>>();

function permissionSetName(ctx: SourceContext, sso: SSOAdminClient, instanceArn: string, arn: string): Promise<string> {
  let names = psNames.get(ctx.session);
  if (!names) psNames.set(ctx.session, (names = new Map()));
  let name = names.get(arn);
  if (!name) {
    name = sso.send(new DescribePermissionSetCommand({ InstanceArn: instanceArn, PermissionSetArn: arn })).then(
      (r) => r.PermissionSet?.Name ?? arn,
      (err: unknown) => {
        // Deleted since it was listed: its ARN still names it.
        if (err instanceof ConnectorError && err.code === 'AWS_NOT_FOUND') return arn;
        throw err;
      },
    );
    names.set(arn, name);
    name.catch(() => names.delete(arn));
  }
  return name;
}

async function* assignments(ctx: SourceContext): AsyncGenerator<Entity> {
  const inst = await findInstance(ctx);
  // No instance: nothing is assigned anywhere (the sso unit warns about it once).
  if (!inst?.InstanceArn) return;
  const instanceArn = inst.InstanceArn;
  const { accountId, region } = ctx.unit;
  const account = ctx.plan.accounts.find((a) => a.id === accountId);
  const sso = await ctx.session.managementClient(SSOAdminClient, region);
  for await (const page of paginate(async (t) => {
    const r = await sso.send(new ListPermissionSetsProvisionedToAccountCommand({ InstanceArn: instanceArn, AccountId: accountId, MaxResults: pageSize('ssoAdmin'), NextToken: t }));
    return { items: r.PermissionSets, next: r.NextToken };
  })) {
    for (const psArn of page) {
      const psName = await permissionSetName(ctx, sso, instanceArn, psArn);
      for await (const ap of paginate(async (t) => {
        const r = await sso.send(new ListAccountAssignmentsCommand({ InstanceArn: instanceArn, AccountId: accountId, PermissionSetArn: psArn, MaxResults: pageSize('ssoAdmin'), NextToken: t }));
        return { items: r.AccountAssignments, next: r.NextToken };
      })) {
        for (const a of ap) {
          const { PrincipalType: type, PrincipalId: principalId } = a;
          if ((type !== 'USER' && type !== 'GROUP') || !principalId) continue;
          const principalEntityId = type === 'USER' ? ids.ssoUser(ctx.plan.partition, principalId) : ids.ssoGroup(ctx.plan.partition, principalId);
          yield {
            kind: 'sso.accountAssignment',
            id: ids.accountAssignment(psArn, accountId, type, principalId),
            name: `${psName} for ${type.toLowerCase()} ${principalId} in ${account?.name ?? accountId}`,
            accountId,
            region,
            ...(account && { parentId: account.arn }),
            attributes: { permissionSetArn: psArn, permissionSetName: psName, principalType: type, principalId, principalEntityId },
          };
        }
      }
    }
  }
}

export const ssoAssignmentsSource: EntitySource = {
  name: 'sso-assignments',
  scope: 'account',
  resourceType: 'sso',
  // sso.effectiveAccess: derived in this unit with sync params `expand` (src/sync/expand.ts).
  entityKinds: ['sso.accountAssignment', 'sso.effectiveAccess'],
  requiredActions: ['sso:ListInstances', 'sso:DescribePermissionSet', 'sso:ListPermissionSetsProvisionedToAccount', 'sso:ListAccountAssignments'],
  units: (plan: SyncPlan): SyncUnit[] => plan.accounts.map((a) => ({ source: 'sso-assignments', accountId: a.id, region: ssoRegion(plan) })),
  read: (ctx) => assignments(ctx),
};
