// AWS Organizations (awsJson1_1). Every operation here reads: the management account may
// call them all; a delegated administrator (a member account the organization's
// resource-based delegation policy names, `organization.delegatedAdministrators`) may too;
// any other member account may only DescribeOrganization. An account outside any
// organization gets AWSOrganizationsNotInUseException.
import { SimError, validation } from '../errors.js';
import type { Ctx, ServiceDef } from '../service.js';
import type { Account, Tag } from '../world.js';
import { arn } from '../world.js';
import { num, paginate, str } from '../util.js';

/** `member`: any account of the organization; `read`: the management account or a delegated administrator. */
function requireOrg(ctx: Ctx, who: 'member' | 'read' = 'read') {
  const org = ctx.world.organization;
  if (!org || !ctx.account.inOrg) throw new SimError('AWSOrganizationsNotInUseException', 'Your account is not a member of an organization.', 400);
  const reader = ctx.account.id === org.managementAccountId || (org.delegatedAdministrators ?? []).includes(ctx.account.id);
  if (who === 'read' && !reader) {
    throw new SimError('AccessDeniedException', "You don't have permissions to access this resource.", 400);
  }
  return org;
}

function page<T>(ctx: Ctx, items: T[], scope: string) {
  return paginate(items, {
    max: num(ctx.input.MaxResults), token: str(ctx.input.NextToken), cap: 20, scope: `${ctx.op}|${scope}`,
    invalidToken: () => new SimError('InvalidInputException', 'The provided pagination token is invalid.', 400, { Reason: 'INVALID_PAGINATION_TOKEN' }),
    tooLarge: () => new SimError('InvalidInputException', 'You specified a value that is not valid for MaxResults.', 400, { Reason: 'INVALID_INPUT' }),
  });
}

/** `Status` is the legacy field AWS is retiring; `State` is the current one. */
function legacyStatus(a: Account): string {
  return a.state === 'ACTIVE' ? 'ACTIVE' : a.state === 'SUSPENDED' ? 'SUSPENDED' : 'PENDING_CLOSURE';
}

export function accountOut(ctx: Ctx, a: Account): Record<string, unknown> {
  return {
    Id: a.id, Arn: arn.account(ctx.world, a.id), Email: a.email, Name: a.name,
    Status: legacyStatus(a), State: a.state, JoinedMethod: a.id === ctx.world.organization?.managementAccountId ? 'INVITED' : 'CREATED',
    JoinedTimestamp: new Date(a.joined),
  };
}

const orgAccounts = (ctx: Ctx) => [...ctx.world.accounts.values()].filter((a) => a.inOrg).sort((x, y) => (x.id < y.id ? -1 : 1));

function parentExists(ctx: Ctx, id: string): boolean {
  return id === ctx.world.organization!.rootId || ctx.world.ous.has(id);
}

export const organizationsService: ServiceDef = {
  name: 'organizations',
  global: true,
  protocol: 'json1.1',
  iamPrefix: 'organizations',
  eventSource: 'organizations.amazonaws.com',
  family: () => 'organizations',
  mutating: new Set(),
  ops: {
    DescribeOrganization: (ctx) => {
      const org = requireOrg(ctx, 'member');
      const mgmt = ctx.world.accounts.get(org.managementAccountId)!;
      return { Organization: {
        Id: org.id, Arn: arn.org(ctx.world), FeatureSet: org.featureSet,
        MasterAccountArn: arn.account(ctx.world, mgmt.id), MasterAccountId: mgmt.id, MasterAccountEmail: mgmt.email,
        AvailablePolicyTypes: [{ Type: 'SERVICE_CONTROL_POLICY', Status: 'ENABLED' }],
      } };
    },
    ListRoots: (ctx) => {
      const org = requireOrg(ctx);
      const p = page(ctx, [org], '');
      return { Roots: p.items.map(() => ({ Id: org.rootId, Arn: arn.root(ctx.world), Name: org.rootName, PolicyTypes: [{ Type: 'SERVICE_CONTROL_POLICY', Status: 'ENABLED' }] })), NextToken: p.next };
    },
    ListOrganizationalUnitsForParent: (ctx) => {
      requireOrg(ctx);
      const parent = str(ctx.input.ParentId) ?? '';
      if (!parentExists(ctx, parent)) throw new SimError('ParentNotFoundException', "We can't find a root or OU with the ParentId that you specified.", 400);
      const ous = [...ctx.world.ous.values()].filter((o) => o.parentId === parent).sort((x, y) => (x.id < y.id ? -1 : 1));
      const p = page(ctx, ous, parent);
      return { OrganizationalUnits: p.items.map((o) => ({ Id: o.id, Arn: arn.ou(ctx.world, o.id), Name: o.name })), NextToken: p.next };
    },
    ListAccounts: (ctx) => {
      requireOrg(ctx);
      const p = page(ctx, orgAccounts(ctx), '');
      return { Accounts: p.items.map((a) => accountOut(ctx, a)), NextToken: p.next };
    },
    ListAccountsForParent: (ctx) => {
      requireOrg(ctx);
      const parent = str(ctx.input.ParentId) ?? '';
      if (!parentExists(ctx, parent)) throw new SimError('ParentNotFoundException', "We can't find a root or OU with the ParentId that you specified.", 400);
      const p = page(ctx, orgAccounts(ctx).filter((a) => a.parentId === parent), parent);
      return { Accounts: p.items.map((a) => accountOut(ctx, a)), NextToken: p.next };
    },
    ListParents: (ctx) => {
      const org = requireOrg(ctx);
      const child = str(ctx.input.ChildId) ?? '';
      const parentId = ctx.world.accounts.get(child)?.inOrg ? ctx.world.accounts.get(child)!.parentId : ctx.world.ous.get(child)?.parentId;
      if (!parentId) throw new SimError('ChildNotFoundException', "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.", 400);
      const p = page(ctx, [parentId], child);
      return { Parents: p.items.map((id) => ({ Id: id, Type: id === org.rootId ? 'ROOT' : 'ORGANIZATIONAL_UNIT' })), NextToken: p.next };
    },
    ListTagsForResource: (ctx) => {
      const org = requireOrg(ctx);
      const id = str(ctx.input.ResourceId) ?? '';
      let tags: Tag[] | undefined;
      if (id === org.rootId) tags = org.rootTags;
      else if (ctx.world.ous.has(id)) tags = ctx.world.ous.get(id)!.tags;
      else if (ctx.world.accounts.get(id)?.inOrg) tags = ctx.world.accounts.get(id)!.tags;
      else if (/^\d{12}$/.test(id)) throw new SimError('AccountNotFoundException', "We can't find an AWS account with the AccountId that you specified, or the account whose credentials you used to make this request isn't a member of an organization.", 400);
      else throw new SimError('TargetNotFoundException', "We can't find a root, OU, account, or policy with the TargetId that you specified.", 400);
      const p = page(ctx, tags ?? [], id);
      return { Tags: p.items, NextToken: p.next };
    },
  },
};

export { validation };
