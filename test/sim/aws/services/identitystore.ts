// Identity Store (awsJson1_1): users, groups and group memberships of the Identity Center
// instance's store. Shares Identity Center's per-account quota with sso-admin.
import { SimError, validation } from '../errors.js';
import type { Ctx, ServiceDef } from '../service.js';
import type { SsoInstance, SsoUser } from '../world.js';
import { num, paginate, str, uuid } from '../util.js';

function store(ctx: Ctx): SsoInstance {
  const sso = ctx.world.sso;
  const id = str(ctx.input.IdentityStoreId);
  if (!sso || id !== sso.identityStoreId || ctx.region !== sso.region) {
    throw new SimError('ResourceNotFoundException', `Identity store ${id} not found`, 400, { ResourceType: 'IDENTITY_STORE', ResourceId: id });
  }
  if (ctx.account.id !== sso.ownerAccountId) throw new SimError('AccessDeniedException', `User: ${ctx.session.arn} is not authorized to perform: identitystore:${ctx.op}`, 400);
  return sso;
}

function page<T>(ctx: Ctx, items: T[], scope: string) {
  return paginate(items, {
    max: num(ctx.input.MaxResults), token: str(ctx.input.NextToken), cap: 100, scope: `${ctx.op}|${scope}`,
    invalidToken: () => validation('identitystore', 'Invalid NextToken'),
    tooLarge: (n) => validation('identitystore', `1 validation error detected: Value '${n}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100`),
  });
}

const notFound = (type: string, id: string | undefined) =>
  new SimError('ResourceNotFoundException', `${type} not found`, 400, { ResourceType: type, ResourceId: id });

const userOut = (s: SsoInstance, u: SsoUser) => ({ IdentityStoreId: s.identityStoreId, ...u });
const memberOut = (s: SsoInstance, m: { MembershipId: string; GroupId: string; UserId: string }) =>
  ({ IdentityStoreId: s.identityStoreId, MembershipId: m.MembershipId, GroupId: m.GroupId, MemberId: { UserId: m.UserId } });

/** The deprecated `Filters` (AttributePath UserName / DisplayName) still work for exact matches. */
function filtered<T>(ctx: Ctx, items: T[], attr: (t: T, path: string) => string | undefined): T[] {
  const filters = (ctx.input.Filters as { AttributePath: string; AttributeValue: string }[] | undefined) ?? [];
  return items.filter((t) => filters.every((f) => attr(t, f.AttributePath) === f.AttributeValue));
}

export const identityStoreService: ServiceDef = {
  name: 'identitystore',
  protocol: 'json1.1',
  iamPrefix: 'identitystore',
  eventSource: 'identitystore.amazonaws.com',
  family: () => 'identitycenter',
  mutating: new Set(['CreateGroupMembership', 'DeleteGroupMembership']),
  resource: (ctx) => `arn:${ctx.world.partition}:identitystore::${ctx.account.id}:identitystore/${str(ctx.input.IdentityStoreId)}`,
  ops: {
    ListUsers: (ctx) => {
      const s = store(ctx);
      const users = filtered(ctx, [...s.users.values()].sort((x, y) => (x.UserId < y.UserId ? -1 : 1)), (u, p) => (p === 'UserName' ? u.UserName : undefined));
      const p = page(ctx, users, JSON.stringify(ctx.input.Filters ?? ''));
      return { Users: p.items.map((u) => userOut(s, u)), NextToken: p.next };
    },
    ListGroups: (ctx) => {
      const s = store(ctx);
      const groups = filtered(ctx, [...s.groups.values()].sort((x, y) => (x.GroupId < y.GroupId ? -1 : 1)), (g, p) => (p === 'DisplayName' ? g.DisplayName : undefined));
      const p = page(ctx, groups, JSON.stringify(ctx.input.Filters ?? ''));
      return { Groups: p.items.map((g) => ({ IdentityStoreId: s.identityStoreId, ...g })), NextToken: p.next };
    },
    DescribeUser: (ctx) => {
      const s = store(ctx);
      const u = s.users.get(str(ctx.input.UserId) ?? '');
      if (!u) throw notFound('USER', str(ctx.input.UserId));
      return userOut(s, u);
    },
    DescribeGroup: (ctx) => {
      const s = store(ctx);
      const g = s.groups.get(str(ctx.input.GroupId) ?? '');
      if (!g) throw notFound('GROUP', str(ctx.input.GroupId));
      return { IdentityStoreId: s.identityStoreId, ...g };
    },
    ListGroupMemberships: (ctx) => {
      const s = store(ctx);
      const gid = str(ctx.input.GroupId) ?? '';
      if (!s.groups.has(gid)) throw notFound('GROUP', gid);
      const ms = [...s.memberships.values()].filter((m) => m.GroupId === gid).sort((x, y) => (x.MembershipId < y.MembershipId ? -1 : 1));
      const p = page(ctx, ms, gid);
      return { GroupMemberships: p.items.map((m) => memberOut(s, m)), NextToken: p.next };
    },
    ListGroupMembershipsForMember: (ctx) => {
      const s = store(ctx);
      const uid = str((ctx.input.MemberId as { UserId?: string } | undefined)?.UserId) ?? '';
      const ms = [...s.memberships.values()].filter((m) => m.UserId === uid).sort((x, y) => (x.MembershipId < y.MembershipId ? -1 : 1));
      const p = page(ctx, ms, uid);
      return { GroupMemberships: p.items.map((m) => memberOut(s, m)), NextToken: p.next };
    },
    GetGroupMembershipId: (ctx) => {
      const s = store(ctx);
      const gid = str(ctx.input.GroupId);
      const uid = str((ctx.input.MemberId as { UserId?: string } | undefined)?.UserId);
      const m = [...s.memberships.values()].find((x) => x.GroupId === gid && x.UserId === uid);
      if (!m) throw notFound('GROUP_MEMBERSHIP', `${gid}/${uid}`);
      return { MembershipId: m.MembershipId, IdentityStoreId: s.identityStoreId };
    },
    CreateGroupMembership: (ctx) => {
      const s = store(ctx);
      const gid = str(ctx.input.GroupId) ?? '';
      const uid = str((ctx.input.MemberId as { UserId?: string } | undefined)?.UserId) ?? '';
      if (!s.groups.has(gid)) throw notFound('GROUP', gid);
      if (!s.users.has(uid)) throw notFound('USER', uid);
      if ([...s.memberships.values()].some((x) => x.GroupId === gid && x.UserId === uid)) {
        throw new SimError('ConflictException', 'Member and Group relationship already exists.', 400, { Reason: 'UNIQUENESS_CONSTRAINT_VIOLATION' });
      }
      const m = { MembershipId: uuid(), GroupId: gid, UserId: uid };
      s.memberships.set(m.MembershipId, m);
      return { MembershipId: m.MembershipId, IdentityStoreId: s.identityStoreId };
    },
    DeleteGroupMembership: (ctx) => {
      const s = store(ctx);
      const id = str(ctx.input.MembershipId) ?? '';
      if (!s.memberships.delete(id)) throw notFound('GROUP_MEMBERSHIP', id);
      return {};
    },
  },
};
