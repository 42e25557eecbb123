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

/**
 * The store's users or groups sorted by id, as ListUsers and ListGroups page through them.
 * Sorting the whole store for each page made listing 80,000 users (a 10,000-account world)
 * quadratic: about a minute of the simulator's CPU, in which every other call waited
 * (docs/performance.md). The sorted list is kept while it holds exactly the store's items
 * (same count, each the same object under its id): checking that is a lookup per item, a
 * small part of a sort, and any change, a user deleted and another created included, makes
 * the next page sort again, as every page did before.
 */
const sortedLists = new WeakMap<Map<string, unknown>, unknown[]>();
function sortedById<T>(from: Map<string, T>, id: (t: T) => string): T[] {
  const kept = sortedLists.get(from) as T[] | undefined;
  if (kept && kept.length === from.size && kept.every((t) => from.get(id(t)) === t)) return kept;
  const items = [...from.values()].sort((x, y) => (id(x) < id(y) ? -1 : 1));
  sortedLists.set(from, items);
  return items;
}

/** The deprecated `Filters` (AttributePath UserName / DisplayName) still work for exact matches. */
function filtered<T>(ctx: Ctx, items: T[], attr: (t: T, path: string) => string | undefined): T[] {
  const filters = (ctx.input.Filters as { AttributePath: string; AttributeValue: string }[] | undefined) ?? [];
  if (filters.length === 0) return items;
  return items.filter((t) => filters.every((f) => attr(t, f.AttributePath) === f.AttributeValue));
}

export const identityStoreService: ServiceDef = {
  name: 'identitystore',
  protocol: 'json1.1',
  iamPrefix: 'identitystore',
  eventSource: 'identitystore.amazonaws.com',
  family: () => 'identitycenter',
  mutating: new Set(['CreateGroupMembership', 'DeleteGroupMembership', 'CreateUser', 'DeleteUser']),
  resource: (ctx) => `arn:${ctx.world.partition}:identitystore::${ctx.account.id}:identitystore/${str(ctx.input.IdentityStoreId)}`,
  ops: {
    ListUsers: (ctx) => {
      const s = store(ctx);
      const users = filtered(ctx, sortedById(s.users, (u) => u.UserId), (u, p) => (p === 'UserName' ? u.UserName : undefined));
      const p = page(ctx, users, JSON.stringify(ctx.input.Filters ?? ''));
      return { Users: p.items.map((u) => userOut(s, u)), NextToken: p.next };
    },
    ListGroups: (ctx) => {
      const s = store(ctx);
      const groups = filtered(ctx, sortedById(s.groups, (g) => g.GroupId), (g, p) => (p === 'DisplayName' ? g.DisplayName : undefined));
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
    GetUserId: (ctx) => {
      const s = store(ctx);
      const alt = ctx.input.AlternateIdentifier as { UniqueAttribute?: { AttributePath?: string; AttributeValue?: unknown }; ExternalId?: { Issuer?: string; Id?: string } } | undefined;
      let u: SsoUser | undefined;
      if (alt?.UniqueAttribute) {
        const { AttributePath: path, AttributeValue: value } = alt.UniqueAttribute;
        if (path?.toLowerCase() !== 'username' || typeof value !== 'string') throw validation('identitystore', 'Invalid AlternateIdentifier');
        u = [...s.users.values()].find((x) => x.UserName.toLowerCase() === value.toLowerCase());
      } else if (alt?.ExternalId) {
        u = [...s.users.values()].find((x) => x.ExternalIds?.some((e) => e.Issuer === alt.ExternalId!.Issuer && e.Id === alt.ExternalId!.Id));
      } else {
        throw validation('identitystore', 'Invalid AlternateIdentifier');
      }
      if (!u) throw notFound('USER', undefined);
      return { UserId: u.UserId, IdentityStoreId: s.identityStoreId };
    },
    /** Users of Identity Center's own directory: UserName unique ignoring case; DisplayName and Name required, as the service asks of them. */
    CreateUser: (ctx) => {
      const s = store(ctx);
      const userName = str(ctx.input.UserName);
      const name = ctx.input.Name as { GivenName?: string; FamilyName?: string } | undefined;
      const displayName = str(ctx.input.DisplayName);
      if (!userName || userName.length > 128) throw validation('identitystore', `1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must have length between 1 and 128`);
      if (!displayName) throw validation('identitystore', 'DisplayName is required');
      if (!name?.GivenName || !name.FamilyName) throw validation('identitystore', 'Name.GivenName and Name.FamilyName are required');
      if ([...s.users.values()].some((x) => x.UserName.toLowerCase() === userName.toLowerCase())) {
        throw new SimError('ConflictException', 'Duplicate UserName', 400, { Reason: 'UNIQUENESS_CONSTRAINT_VIOLATION' });
      }
      const emails = (ctx.input.Emails as { Value: string; Type?: string; Primary?: boolean }[] | undefined) ?? [];
      const id = `${s.identityStoreId.slice(2, 12)}-${uuid()}`;
      s.users.set(id, {
        UserId: id, UserName: userName, DisplayName: displayName, Name: { GivenName: name.GivenName, FamilyName: name.FamilyName },
        Emails: emails.map((e) => ({ Value: e.Value, Type: e.Type ?? 'work', Primary: e.Primary ?? false })),
      });
      return { UserId: id, IdentityStoreId: s.identityStoreId };
    },
    /** Deleting a user ends its group memberships with it. */
    DeleteUser: (ctx) => {
      const s = store(ctx);
      const id = str(ctx.input.UserId) ?? '';
      if (!s.users.delete(id)) throw notFound('USER', id);
      for (const [k, m] of s.memberships) if (m.UserId === id) s.memberships.delete(k);
      return {};
    },
    DeleteGroupMembership: (ctx) => {
      const s = store(ctx);
      const id = str(ctx.input.MembershipId) ?? '';
      if (!s.memberships.delete(id)) throw notFound('GROUP_MEMBERSHIP', id);
      return {};
    },
  },
};
