// IAM Identity Center: the instance, its permission sets (with a summary of their
// policies), and the Identity Store's users (with their last sign-in, src/sync/sign-ins.ts),
// groups and group memberships. One unit, in
// the management account and the Identity Center region. Account assignments are the
// sso-assignments source's (one unit per account, so one denied account fails alone).
import {
  DescribePermissionSetCommand,
  GetInlinePolicyForPermissionSetCommand,
  GetPermissionsBoundaryForPermissionSetCommand,
  ListCustomerManagedPolicyReferencesInPermissionSetCommand,
  ListInstancesCommand,
  ListManagedPoliciesInPermissionSetCommand,
  ListPermissionSetsCommand,
  ListTagsForResourceCommand,
  SSOAdminClient,
  type InstanceMetadata,
} from '@aws-sdk/client-sso-admin';
import { IdentitystoreClient, ListGroupMembershipsCommand, ListGroupsCommand, ListUsersCommand, type User } from '@aws-sdk/client-identitystore';
import type { IntegrationSession } from '../../aws/session.js';
import { paginate, pageSize } from '../../aws/paginate.js';
import type { Entity } from '../../protocol/messages.js';
import { isNotFound } from '../../aws/errors.js';
import { optionalRead, UNKNOWN, withUnknowns, type Unknown } from '../optional.js';
import { ids } from '../ids.js';
import { lastSignIn, readSignIns, type SignIns } from '../sign-ins.js';
import { tagFields, tagRecord, type EntitySource, type SourceContext, type SyncPlan, type SyncUnit } from '../types.js';

/** The Identity Center region of an integration. */
export function ssoRegion(plan: SyncPlan): string {
  return plan.integration.ssoRegion ?? plan.integration.region;
}

// ListInstances is looked up once per session (one job) and region, not once per unit:
// sso-assignments has one unit per account, all in the same Identity Center quota
// (20 TPS for the whole organization), and the instance does not change during a sync.
// Keyed by the session object, so the cache goes away with the job. A failed lookup is
// dropped so the next unit asks again.
const instances = new WeakMap<IntegrationSession, Map<string, Promise<InstanceMetadata | undefined>>>();

/** The organization's Identity Center instance in the unit's region, or undefined if there is none. */
export function findInstance(ctx: SourceContext): Promise<InstanceMetadata | undefined> {
  let byRegion = instances.get(ctx.session);
  if (!byRegion) instances.set(ctx.session, (byRegion = new Map()));
  const region = ctx.unit.region;
  let found = byRegion.get(region);
  if (!found) {
    found = (async () => {
      const sso = await ctx.session.managementClient(SSOAdminClient, region);
      // An account holds at most one organization instance; account instances live in
      // member accounts, which ListInstances in the management account does not return.
      const r = await sso.send(new ListInstancesCommand({ MaxResults: pageSize('ssoAdmin') }));
      return (r.Instances ?? []).find((i) => i.InstanceArn && i.IdentityStoreId);
    })();
    byRegion.set(region, found);
    found.catch(() => byRegion.delete(region));
  }
  return found;
}

/** Inline policies up to this size (UTF-8 bytes) are sent whole; larger ones only by size. */
const INLINE_POLICY_MAX = 4096;

async function* permissionSets(ctx: SourceContext, sso: SSOAdminClient, instanceArn: string, common: Pick<Entity, 'accountId' | 'region' | 'parentId'>): AsyncGenerator<Entity> {
  const psInput = (arn: string) => ({ InstanceArn: instanceArn, PermissionSetArn: arn });
  for await (const page of paginate(async (t) => {
    const r = await sso.send(new ListPermissionSetsCommand({ InstanceArn: instanceArn, MaxResults: pageSize('ssoAdmin'), NextToken: t }));
    return { items: r.PermissionSets, next: r.NextToken };
  })) {
    for (const arn of page) {
      let ps;
      try {
        ps = (await sso.send(new DescribePermissionSetCommand(psInput(arn)))).PermissionSet;
      } catch (err) {
        // Deleted between the listing and now: it is simply gone.
        if (isNotFound(err)) continue;
        throw err;
      }
      // Everything below only describes the permission set: each read is optional.
      const managed = await optionalRead(ctx, 'sso:ListManagedPoliciesInPermissionSet', async () => {
        const out: string[] = [];
        for await (const p of paginate(async (t) => {
          const r = await sso.send(new ListManagedPoliciesInPermissionSetCommand({ ...psInput(arn), MaxResults: pageSize('ssoAdmin'), NextToken: t }));
          return { items: r.AttachedManagedPolicies, next: r.NextToken };
        })) for (const m of p) if (m.Arn) out.push(m.Arn);
        return out;
      });
      const customer = await optionalRead(ctx, 'sso:ListCustomerManagedPolicyReferencesInPermissionSet', async () => {
        const out: Array<{ name: string | undefined; path: string | undefined }> = [];
        for await (const p of paginate(async (t) => {
          const r = await sso.send(new ListCustomerManagedPolicyReferencesInPermissionSetCommand({ ...psInput(arn), MaxResults: pageSize('ssoAdmin'), NextToken: t }));
          return { items: r.CustomerManagedPolicyReferences, next: r.NextToken };
        })) for (const c of p) out.push({ name: c.Name, path: c.Path });
        return out;
      });
      // AWS answers an empty string when there is no inline policy.
      const inline = await optionalRead(ctx, 'sso:GetInlinePolicyForPermissionSet', async () => (await sso.send(new GetInlinePolicyForPermissionSetCommand(psInput(arn)))).InlinePolicy ?? '');
      const inlineSize = inline === UNKNOWN ? UNKNOWN : Buffer.byteLength(inline, 'utf8');
      type Boundary = { managedPolicyArn?: string; customerManagedPolicy?: { name: string | undefined; path: string | undefined } } | null;
      const boundary = await optionalRead(ctx, 'sso:GetPermissionsBoundaryForPermissionSet', async (): Promise<Boundary> => {
        try {
          const b = (await sso.send(new GetPermissionsBoundaryForPermissionSetCommand(psInput(arn)))).PermissionsBoundary;
          if (b?.ManagedPolicyArn) return { managedPolicyArn: b.ManagedPolicyArn };
          if (b?.CustomerManagedPolicyReference) return { customerManagedPolicy: { name: b.CustomerManagedPolicyReference.Name, path: b.CustomerManagedPolicyReference.Path } };
          return null;
        } catch (err) {
          // No boundary is answered with ResourceNotFoundException.
          if (isNotFound(err)) return null;
          throw err;
        }
      });
      const tags = await optionalRead(ctx, 'sso:ListTagsForResource', async () => {
        const tagList: Array<{ Key?: string; Value?: string }> = [];
        for await (const p of paginate(async (t) => {
          const r = await sso.send(new ListTagsForResourceCommand({ InstanceArn: instanceArn, ResourceArn: arn, NextToken: t }));
          return { items: r.Tags, next: r.NextToken };
        })) tagList.push(...p);
        return tagRecord(tagList);
      });
      yield {
        kind: 'sso.permissionSet',
        id: ids.permissionSet(arn),
        name: ps?.Name ?? arn,
        arn,
        ...common,
        ...(tags !== UNKNOWN && tagFields(ctx.plan.integration, tags)),
        attributes: withUnknowns(
          {
            description: ps?.Description,
            createdDate: ps?.CreatedDate?.toISOString(),
            sessionDuration: ps?.SessionDuration,
            relayState: ps?.RelayState,
            ...(inline !== UNKNOWN && inline.length > 0 && Buffer.byteLength(inline, 'utf8') <= INLINE_POLICY_MAX && { inlinePolicy: inline }),
          },
          {
            managedPolicyArns: managed,
            customerManagedPolicies: customer,
            hasInlinePolicy: inlineSize === UNKNOWN ? UNKNOWN : inlineSize > 0,
            inlinePolicySize: inlineSize,
            permissionsBoundary: boundary,
            ...(tags === UNKNOWN && { tags: UNKNOWN }),
          },
        ),
      };
    }
  }
}

// What a customer's policy may allow (policy file `sync.userAttributes`): Identity Store
// attribute names, matched case-insensitively, each with the entity attribute it becomes.
const USER_ATTRIBUTES: Record<string, (u: User) => Record<string, unknown>> = {
  username: (u) => ({ userName: u.UserName }),
  displayname: (u) => ({ displayName: u.DisplayName }),
  name: (u) => ({ name: u.Name && { givenName: u.Name.GivenName, familyName: u.Name.FamilyName, formatted: u.Name.Formatted } }),
  emails: (u) => ({ emails: (u.Emails ?? []).map((e) => ({ value: e.Value, type: e.Type, primary: e.Primary })) }),
  // Only whether the user came from an external directory, never the ids themselves.
  externalids: (u) => ({ hasExternalIds: (u.ExternalIds?.length ?? 0) > 0 }),
};

/** The policy name (sync.userAttributes) of the sign-in time, which comes from CloudTrail, not the Identity Store. */
const SIGN_IN_ATTRIBUTE = 'lastsignin';

function mayRead(ctx: SourceContext): (a: string) => boolean {
  const allowed = ctx.userAttributes && new Set(ctx.userAttributes.map((a) => a.toLowerCase()));
  return (a: string) => !allowed || allowed.has(a);
}

/** `lastSignInAt` and its window; unknown when the read failed, or found none in a delta's short window. */
function signInAttributes(signIns: SignIns | Unknown, u: User & { UserId: string }): { lastSignInAt: string | null | Unknown; lastSignInWindowStart: string | Unknown } {
  if (signIns === UNKNOWN) return { lastSignInAt: UNKNOWN, lastSignInWindowStart: UNKNOWN };
  const at = lastSignIn(signIns, u.UserId, u.UserName);
  if (at === null && signIns.partial) return { lastSignInAt: UNKNOWN, lastSignInWindowStart: UNKNOWN };
  return { lastSignInAt: at, lastSignInWindowStart: signIns.windowStart.toISOString() };
}

function userEntity(ctx: SourceContext, u: User & { UserId: string }, common: Pick<Entity, 'accountId' | 'region' | 'parentId'>, signIns: SignIns | Unknown | undefined): Entity {
  const may = mayRead(ctx);
  const attributes: Record<string, unknown> = { userId: u.UserId };
  for (const [name, pick] of Object.entries(USER_ATTRIBUTES)) if (may(name)) Object.assign(attributes, pick(u));
  // The entity name must not leak an attribute the policy keeps in the account.
  const name = (may('username') && u.UserName) || (may('displayname') && u.DisplayName) || u.UserId;
  const withSignIn =
    signIns === undefined
      ? attributes
      : withUnknowns(attributes, signInAttributes(signIns, u));
  return { kind: 'sso.user', id: ids.ssoUser(ctx.plan.partition, u.UserId), name, ...common, attributes: withSignIn };
}

async function* identityCenter(ctx: SourceContext): AsyncGenerator<Entity> {
  const inst = await findInstance(ctx);
  if (!inst?.InstanceArn || !inst.IdentityStoreId) {
    ctx.warn('SSO_INSTANCE_NOT_FOUND', `no IAM Identity Center instance in account ${ctx.unit.accountId}, region ${ctx.unit.region}; set ssoRegion to the instance's region`);
    return;
  }
  const { InstanceArn: instanceArn, IdentityStoreId: storeId } = inst;
  const region = ctx.unit.region;
  const partition = ctx.plan.partition;
  const sso = await ctx.session.managementClient(SSOAdminClient, region);
  const store = await ctx.session.managementClient(IdentitystoreClient, region);
  const accountId = inst.OwnerAccountId ?? ctx.unit.accountId;
  const inInstance = { accountId, region, parentId: ids.ssoInstance(instanceArn) };

  // Sign-ins come from CloudTrail, at 2 TPS: the read starts now and runs beside the
  // permission sets and groups, which is why users come last. It is optional (denied,
  // unsupported or throttled away: the attributes are unknown), and not made at all without
  // enableAudit (the templates grant cloudtrail:LookupEvents only with EnableAudit) or when
  // the customer's policy keeps sign-in times in the account.
  const signIns = ctx.plan.integration.enableAudit && mayRead(ctx)(SIGN_IN_ATTRIBUTE) ? optionalRead(ctx, 'cloudtrail:LookupEvents', () => readSignIns(ctx, storeId, ctx.directoryRefresh?.since), { throttled: true }) : undefined;
  // Awaited only after the listings; a unit failing before then must not leave it unhandled.
  signIns?.catch(() => undefined);

  // A delta's refresh: permission sets did not change (docs/sync.md, "Delta").
  const refresh = ctx.directoryRefresh;
  if (!refresh) yield* permissionSets(ctx, sso, instanceArn, inInstance);

  // Each group, then its memberships: only one page of groups is held at a time.
  for await (const page of paginate(async (t) => {
    const r = await store.send(new ListGroupsCommand({ IdentityStoreId: storeId, MaxResults: pageSize('identityStore'), NextToken: t }));
    return { items: r.Groups, next: r.NextToken };
  })) {
    for (const g of page) {
      if (!g.GroupId) continue;
      const groupEntityId = ids.ssoGroup(partition, g.GroupId);
      const groupName = g.DisplayName ?? g.GroupId;
      yield {
        kind: 'sso.group',
        id: groupEntityId,
        name: groupName,
        ...inInstance,
        attributes: { groupId: g.GroupId, displayName: g.DisplayName, description: g.Description, hasExternalIds: (g.ExternalIds?.length ?? 0) > 0 },
      };
      if (refresh && !refresh.groups.has(g.GroupId)) continue;
      try {
        for await (const mp of paginate(async (t) => {
          const r = await store.send(new ListGroupMembershipsCommand({ IdentityStoreId: storeId, GroupId: g.GroupId, MaxResults: pageSize('identityStore'), NextToken: t }));
          return { items: r.GroupMemberships, next: r.NextToken };
        })) {
          for (const m of mp) {
            // MemberId is a union; users are the only members Identity Store has today.
            const userId = m.MemberId && 'UserId' in m.MemberId ? m.MemberId.UserId : undefined;
            if (!m.MembershipId || !userId) continue;
            yield {
              kind: 'sso.groupMembership',
              id: ids.ssoGroupMembership(partition, m.MembershipId),
              name: `${groupName}: ${userId}`,
              accountId,
              region,
              parentId: groupEntityId,
              attributes: { groupId: g.GroupId, userId, membershipId: m.MembershipId },
            };
          }
        }
      } catch (err) {
        // Group deleted after it was listed: its memberships went with it.
        if (!isNotFound(err)) throw err;
      }
    }
  }

  // Users, then the instance: it needs what they tell about the identity source.
  const signedIn = await signIns;
  let users = 0;
  let external = 0;
  for await (const page of paginate(async (t) => {
    const r = await store.send(new ListUsersCommand({ IdentityStoreId: storeId, MaxResults: pageSize('identityStore'), NextToken: t }));
    return { items: r.Users, next: r.NextToken };
  })) {
    for (const u of page) {
      if (!u.UserId) continue;
      users++;
      if ((u.ExternalIds?.length ?? 0) > 0) external++;
      yield userEntity(ctx, { ...u, UserId: u.UserId }, inInstance, signedIn);
    }
  }

  // No AWS API tells the identity source. Users provisioned by SCIM (an external IdP) or
  // synchronised from Active Directory carry ExternalIds; users created in Identity
  // Center's own directory cannot have any (CreateUser takes none). So: any user with
  // ExternalIds → EXTERNAL, users but none with them → IDENTITY_CENTER, no users → UNKNOWN.
  // A directory switched back to Identity Center may keep old ExternalIds: a heuristic.
  const identitySource = users === 0 ? 'UNKNOWN' : external > 0 ? 'EXTERNAL' : 'IDENTITY_CENTER';
  yield {
    kind: 'sso.instance',
    id: ids.ssoInstance(instanceArn),
    name: inst.Name || instanceArn,
    accountId,
    region,
    arn: instanceArn,
    attributes: { identityStoreId: storeId, name: inst.Name, status: inst.Status, createdDate: inst.CreatedDate?.toISOString(), identitySource },
  };
}

export const ssoSource: EntitySource = {
  name: 'sso',
  scope: 'global',
  resourceType: 'sso',
  // sso.permissionSetPolicy: derived in this unit with sync params `expand` (src/sync/expand.ts).
  entityKinds: ['sso.instance', 'sso.permissionSet', 'sso.user', 'sso.group', 'sso.groupMembership', 'sso.permissionSetPolicy'],
  requiredActions: [
    'sso:ListInstances',
    'sso:ListPermissionSets',
    'sso:DescribePermissionSet',
    'sso:ListManagedPoliciesInPermissionSet',
    'sso:ListCustomerManagedPolicyReferencesInPermissionSet',
    'sso:GetInlinePolicyForPermissionSet',
    'sso:GetPermissionsBoundaryForPermissionSet',
    'sso:ListTagsForResource',
    'identitystore:ListUsers',
    'identitystore:ListGroups',
    'identitystore:ListGroupMemberships',
  ],
  // The sign-in feed (SIGN_IN_ACTIONS) is declared apart, under the audit switch (src/permissions.ts).
  units: (plan: SyncPlan): SyncUnit[] => [{ source: 'sso', accountId: plan.managementAccountId, region: ssoRegion(plan) }],
  read: (ctx) => identityCenter(ctx),
};
