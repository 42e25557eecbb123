// sso.groupMembership: an Identity Center user joins an Identity Store group, and with it
// every account assignment of the group. The policy is checked against what the group
// grants (its accounts, permission sets and their policies), not only its name.
import {
  CreateGroupMembershipCommand,
  DeleteGroupMembershipCommand,
  DescribeGroupCommand,
  DescribeUserCommand,
  GetGroupMembershipIdCommand,
} from '@aws-sdk/client-identitystore';
import { ListAccountAssignmentsForPrincipalCommand } from '@aws-sdk/client-sso-admin';
import * as z from 'zod';
import { awsErrorCode, isConflict, isNotFound, isThrottle } from '../../aws/errors.js';
import { collect, pageSize, paginate } from '../../aws/paginate.js';
import type { IntegrationSession } from '../../aws/session.js';
import { ConnectorError } from '../../errors.js';
import { IDENTITY_STORE_ID, identityStoreClient, permissionSetInfo, policiesIn, portalLink, slowDownRetry, ssoAdminClient, ssoInstance } from '../identity-center.js';
import { refuseProtectedAccounts } from '../accounts.js';
import { beforeChange, sendChange, type AccessContext, type AccessKindDef, type AccessRequest, type PolicyFacts, type Principal } from '../types.js';

const target = z.strictObject({
  // Lower case, as AWS writes Identity Store ids (see params.ts).
  groupId: z.string().regex(IDENTITY_STORE_ID, 'must be an Identity Store group id').transform((id) => id.toLowerCase()),
});
type Target = z.infer<typeof target>;

/** What facts() learnt about the group, for accessDetails() of the same job. */
const groupsSeen = new WeakMap<IntegrationSession, Map<string, { name: string; accounts: number; permissionSets: string[] }>>();

/** The Reason of an Identity Store ConflictException (UNIQUENESS_CONSTRAINT_VIOLATION | CONCURRENT_MODIFICATION). */
function conflictReason(err: unknown): string | undefined {
  let e: unknown = err;
  while (e instanceof ConnectorError && e.cause !== undefined) e = e.cause;
  return (e as { Reason?: string } | null)?.Reason;
}
function alreadyMember(err: unknown): boolean {
  return awsErrorCode(err) === 'ConflictException' && (conflictReason(err) === 'UNIQUENESS_CONSTRAINT_VIOLATION' || /already exists/i.test((err as Error).message));
}
function retryable(err: unknown): boolean {
  return isThrottle(err) || (isConflict(err) && !alreadyMember(err));
}

async function membershipId(ctx: AccessContext, req: AccessRequest<Target>): Promise<string | undefined> {
  const { identityStoreId } = await ssoInstance(ctx);
  const store = await identityStoreClient(ctx);
  try {
    const r = await store.send(new GetGroupMembershipIdCommand({ IdentityStoreId: identityStoreId, GroupId: req.target.groupId, MemberId: { UserId: req.principal.id } }));
    return r.MembershipId;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export const ssoGroupMembership: AccessKindDef<Target> = {
  name: 'sso.groupMembership',
  summary: 'Adds an Identity Center user to an Identity Store group (and so to every account the group is assigned).',
  principalTypes: ['user'],
  target,
  checkPrincipal: (p: Principal) => (IDENTITY_STORE_ID.test(p.id) ? undefined : 'principal.id must be an Identity Store user id'),
  requiredActions: [
    'sso:ListInstances',
    'organizations:DescribeOrganization',
    'identitystore:DescribeGroup',
    'identitystore:DescribeUser',
    'sso:ListAccountAssignmentsForPrincipal',
    'sso:DescribePermissionSet',
    'sso:ListManagedPoliciesInPermissionSet',
    'sso:ListCustomerManagedPolicyReferencesInPermissionSet',
    'identitystore:GetGroupMembershipId',
    'identitystore:CreateGroupMembership',
    'identitystore:DeleteGroupMembership',
  ],

  accessKey: (req) => `sso.groupMembership:${req.target.groupId}|${req.principal.id}`,

  async facts(ctx, req): Promise<PolicyFacts> {
    const { instanceArn, identityStoreId } = await ssoInstance(ctx);
    const store = await identityStoreClient(ctx);
    const { groupId } = req.target;
    const group = await store.send(new DescribeGroupCommand({ IdentityStoreId: identityStoreId, GroupId: groupId }));
    const user = await store.send(new DescribeUserCommand({ IdentityStoreId: identityStoreId, UserId: req.principal.id }));
    const name = group.DisplayName ?? groupId;

    // No API tells the identity source; users and groups provisioned by SCIM or synced
    // from Active Directory carry ExternalIds (src/sync/sources/sso.ts infers it the same way).
    const external = [(user.ExternalIds?.length ?? 0) > 0 && `user ${req.principal.id}`, (group.ExternalIds?.length ?? 0) > 0 && `group ${name}`].filter(Boolean);
    if (external.length > 0 && !ctx.settings.allowExternalIdentityWrites) {
      throw new ConnectorError(
        'ACCESS_REFUSED',
        `The ${external.join(' and ')} come${external.length === 1 ? 's' : ''} from an external identity provider or Active Directory: a membership written in Identity Center does not flow back to that directory and may be overwritten by its next sync. Change the membership in the directory, or allow it with allowExternalIdentityWrites in the policy file.`,
      );
    }

    const sso = await ssoAdminClient(ctx);
    const assignments = await collect(paginate(async (t) => {
      const r = await sso.send(new ListAccountAssignmentsForPrincipalCommand({
        InstanceArn: instanceArn, PrincipalId: groupId, PrincipalType: 'GROUP', MaxResults: pageSize('ssoAdmin'), NextToken: t,
      }));
      return { items: r.AccountAssignments, next: r.NextToken };
    }));
    const accountsBySet = new Map<string, Set<string>>();
    for (const a of assignments) {
      if (!a.AccountId || !a.PermissionSetArn) continue;
      let s = accountsBySet.get(a.PermissionSetArn);
      if (!s) accountsBySet.set(a.PermissionSetArn, (s = new Set()));
      s.add(a.AccountId);
    }
    const accountIds = [...new Set(assignments.flatMap((a) => (a.AccountId ? [a.AccountId] : [])))].sort();
    await refuseProtectedAccounts(ctx, accountIds, `The group ${name}`);

    const permissionSets: NonNullable<PolicyFacts['permissionSets']> = [];
    const managedPolicies = new Set<string>();
    for (const [arn, accounts] of accountsBySet) {
      const ps = await permissionSetInfo(ctx, arn);
      const policies = policiesIn(ps, [...accounts].sort());
      permissionSets.push({ arn, name: ps.name, managedPolicies: policies });
      for (const p of policies) managedPolicies.add(p);
    }

    let seen = groupsSeen.get(ctx.session);
    if (!seen) groupsSeen.set(ctx.session, (seen = new Map()));
    seen.set(groupId, { name, accounts: accountIds.length, permissionSets: permissionSets.map((p) => p.name).sort() });
    return { accountIds, permissionSets, groups: [{ id: groupId, name: `sso:${name}` }], managedPolicies: [...managedPolicies].sort() };
  },

  async describe(ctx, req) {
    return { present: (await membershipId(ctx, req)) !== undefined };
  },

  async grant(ctx, req) {
    const { identityStoreId } = await beforeChange(() => ssoInstance(ctx));
    const store = await beforeChange(() => identityStoreClient(ctx));
    await slowDownRetry(ctx, async () => {
      try {
        await sendChange(() => store.send(new CreateGroupMembershipCommand({ IdentityStoreId: identityStoreId, GroupId: req.target.groupId, MemberId: { UserId: req.principal.id } })));
      } catch (err) {
        // Added since describe() looked (another job, the console): it is in place.
        if (!alreadyMember(err)) throw err;
      }
    }, retryable);
  },

  async revoke(ctx, req) {
    const gone = { notes: ['The membership was already gone in AWS.'] };
    const id = await membershipId(ctx, req);
    if (!id) return gone;
    const { identityStoreId } = await ssoInstance(ctx);
    const store = await identityStoreClient(ctx);
    try {
      await slowDownRetry(ctx, () => store.send(new DeleteGroupMembershipCommand({ IdentityStoreId: identityStoreId, MembershipId: id })), retryable);
    } catch (err) {
      if (isNotFound(err)) return gone;
      throw err;
    }
    return {};
  },

  accessDetails(ctx, req) {
    const g = groupsSeen.get(ctx.session)?.get(req.target.groupId);
    const link = portalLink(ctx);
    const grants = g
      ? g.accounts > 0
        ? `, which gives ${g.permissionSets.join(', ')} in ${g.accounts} account${g.accounts === 1 ? '' : 's'}`
        : ', which has no account assignments yet'
      : '';
    const instructions = [
      `You are a member of the Identity Center group ${g?.name ?? req.target.groupId}${grants}. Sign in to the AWS access portal: the group's accounts are listed there and give console and CLI access.`,
      link.note,
    ].filter(Boolean).join(' ');
    return {
      instructions,
      ...(link.url && { url: link.url }),
      revokeLimits: [
        "Console and CLI sessions opened through the group's permission sets before the revoke stay valid until their session duration ends; revoking only stops new ones.",
      ],
      ...(ctx.integration.customAccessDetails && { custom: ctx.integration.customAccessDetails }),
    };
  },
};
