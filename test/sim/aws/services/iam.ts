// IAM (awsQuery), per account. Policy documents travel URL-encoded, as AWS sends them.
import { SimError, validation } from '../errors.js';
import { unknownPrincipals } from '../auth.js';
import type { Ctx, ServiceDef } from '../service.js';
import type { Account, IamGroup, IamRole, IamUser, ManagedPolicy, Tag, World } from '../world.js';
import { arn, attachmentCount, findPolicy } from '../world.js';
import { list, num, paginate, str } from '../util.js';

/** IAM's default quota for a role trust policy (characters, whitespace excluded). */
export const TRUST_POLICY_MAX = 2048;
const INLINE_MAX = 10240;

const enc = (doc: string) => encodeURIComponent(doc);
const noSuch = (msg: string) => new SimError('NoSuchEntity', msg, 404);

function page<T>(ctx: Ctx, items: T[], scope: string): { items: T[]; IsTruncated: boolean; Marker?: string } {
  const p = paginate(items, {
    max: num(ctx.input.MaxItems), token: str(ctx.input.Marker), cap: 1000, def: 100,
    scope: `${ctx.account.id}|${ctx.op}|${scope}`,
    invalidToken: () => validation('iam', 'Invalid Marker.'),
    tooLarge: (n) => validation('iam', `1 validation error detected: Value '${n}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000`),
  });
  return { items: p.items, IsTruncated: !!p.next, ...(p.next ? { Marker: p.next } : {}) };
}

function user(ctx: Ctx, name = str(ctx.input.UserName)): IamUser {
  if (!name) throw validation('iam', 'Must specify userName when calling with non-User credentials');
  const u = ctx.account.iam.users.get(name);
  if (!u) throw noSuch(`The user with name ${name} cannot be found.`);
  return u;
}
function role(ctx: Ctx, name = str(ctx.input.RoleName)): IamRole {
  const r = ctx.account.iam.roles.get(name ?? '');
  if (!r) throw noSuch(`The role with name ${name} cannot be found.`);
  return r;
}
function group(ctx: Ctx, name = str(ctx.input.GroupName)): IamGroup {
  const g = ctx.account.iam.groups.get(name ?? '');
  if (!g) throw noSuch(`The group with name ${name} cannot be found.`);
  return g;
}
function policy(ctx: Ctx, a = str(ctx.input.PolicyArn) ?? ''): ManagedPolicy {
  const p = findPolicy(ctx.world, ctx.account, a);
  if (!p) throw noSuch(`Policy ${a} does not exist or is not attachable.`);
  return p;
}

/** Roles only AWS may modify: service-linked and Identity Center's reserved roles. */
export function isProtectedRole(r: IamRole): boolean {
  return r.path.startsWith('/aws-service-role/') || r.path.startsWith('/aws-reserved/');
}
function modifiable(r: IamRole): void {
  if (isProtectedRole(r)) throw new SimError('UnmodifiableEntity', `Cannot perform the operation on the protected role '${r.name}' - this role is only modifiable by AWS`, 400);
}

const boundaryOut = (b?: string) => (b ? { PermissionsBoundary: { PermissionsBoundaryType: 'PermissionsBoundaryPolicy', PermissionsBoundaryArn: b } } : {});
const tagsOut = (t?: Tag[]) => (t && t.length ? { Tags: t } : {});
const attachedOut = (w: World, a: Account, arns?: string[]) =>
  (arns ?? []).map((p) => ({ PolicyName: findPolicy(w, a, p)?.name ?? p.split('/').pop(), PolicyArn: p }));
const inlineOut = (m?: Record<string, string>) => Object.entries(m ?? {}).map(([PolicyName, d]) => ({ PolicyName, PolicyDocument: enc(d) }));

export function userOut(w: World, a: Account, u: IamUser, full: boolean): Record<string, unknown> {
  return {
    Path: u.path, UserName: u.name, UserId: u.id, Arn: arn.user(w, a.id, u), CreateDate: new Date(u.created),
    ...(u.passwordLastUsed ? { PasswordLastUsed: new Date(u.passwordLastUsed) } : {}),
    ...(full ? { ...boundaryOut(u.boundary), ...tagsOut(u.tags) } : {}),
  };
}
export function roleOut(w: World, a: Account, r: IamRole, full: boolean): Record<string, unknown> {
  return {
    Path: r.path, RoleName: r.name, RoleId: r.id, Arn: arn.role(w, a.id, r), CreateDate: new Date(r.created),
    AssumeRolePolicyDocument: enc(r.trust), ...(r.description ? { Description: r.description } : {}), MaxSessionDuration: r.maxSession,
    ...(full ? {
      ...boundaryOut(r.boundary), ...tagsOut(r.tags),
      RoleLastUsed: r.lastUsed ? { LastUsedDate: new Date(r.lastUsed), Region: r.lastUsedRegion ?? 'us-east-1' } : {},
    } : {}),
  };
}
function groupOut(w: World, a: Account, g: IamGroup): Record<string, unknown> {
  return { Path: g.path, GroupName: g.name, GroupId: g.id, Arn: arn.group(w, a.id, g), CreateDate: new Date(g.created) };
}
function policyOut(a: Account, p: ManagedPolicy, withDescription: boolean): Record<string, unknown> {
  return {
    PolicyName: p.name, PolicyId: p.id, Arn: p.arn, Path: p.path, DefaultVersionId: 'v1',
    AttachmentCount: attachmentCount(a, p.arn), PermissionsBoundaryUsageCount: boundaryCount(a, p.arn), IsAttachable: true,
    ...(withDescription && p.description ? { Description: p.description } : {}),
    CreateDate: new Date(p.created), UpdateDate: new Date(p.updated), ...(withDescription ? tagsOut(p.tags) : {}),
  };
}
function boundaryCount(a: Account, p: string): number {
  let n = 0;
  for (const u of a.iam.users.values()) if (u.boundary === p) n++;
  for (const r of a.iam.roles.values()) if (r.boundary === p) n++;
  return n;
}
const byPath = (prefix?: string) => (x: { path: string }) => !prefix || x.path.startsWith(prefix);
const sorted = <T extends { name: string }>(m: Map<string, T>) => [...m.values()].sort((x, y) => (x.name < y.name ? -1 : 1));

/** AWS-managed policies GAAD and ListPolicies(OnlyAttached) report: those attached in the account. */
export function attachedAwsPolicies(w: World, a: Account): ManagedPolicy[] {
  const used = new Set<string>();
  for (const x of [...a.iam.users.values(), ...a.iam.groups.values(), ...a.iam.roles.values()]) for (const p of x.attached ?? []) used.add(p);
  for (const x of [...a.iam.users.values(), ...a.iam.roles.values()]) if (x.boundary) used.add(x.boundary);
  return [...w.awsPolicies.values()].filter((p) => used.has(p.arn)).sort((x, y) => (x.arn < y.arn ? -1 : 1));
}

function parseDoc(doc: string | undefined): unknown {
  let parsed: unknown;
  try { parsed = JSON.parse(doc ?? ''); } catch { throw new SimError('MalformedPolicyDocument', 'This policy contains invalid Json', 400); }
  checkSids(parsed);
  return parsed;
}

/** IAM's Sid rules, with AWS's own messages: [0-9A-Za-z]* and unique within the document. */
function checkSids(doc: unknown): void {
  const st = (doc as { Statement?: unknown } | null)?.Statement;
  const seen = new Set<string>();
  for (const x of Array.isArray(st) ? st : st === undefined ? [] : [st]) {
    const sid = (x as { Sid?: unknown } | null)?.Sid;
    if (sid === undefined) continue;
    if (typeof sid !== 'string' || !/^[0-9A-Za-z]*$/.test(sid)) {
      throw new SimError('MalformedPolicyDocument', 'Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*', 400);
    }
    if (sid !== '' && seen.has(sid)) throw new SimError('MalformedPolicyDocument', 'Statement IDs (SID) in a single policy must be unique.', 400);
    seen.add(sid);
  }
}

function setTags(tags: Tag[] | undefined, add: Tag[]): Tag[] {
  const m = new Map((tags ?? []).map((t) => [t.Key, t.Value]));
  for (const t of add) m.set(t.Key, t.Value);
  if (m.size > 50) throw new SimError('LimitExceeded', 'Cannot exceed quota for TagsPerResource: 50', 409);
  return [...m].map(([Key, Value]) => ({ Key, Value }));
}

const MUTATING = ['UpdateAssumeRolePolicy', 'PutRolePermissionsBoundary', 'DeleteRolePermissionsBoundary',
  'PutUserPermissionsBoundary', 'DeleteUserPermissionsBoundary', 'TagRole', 'UntagRole', 'TagUser', 'UntagUser',
  'AddUserToGroup', 'RemoveUserFromGroup', 'PutRolePolicy', 'DeleteRolePolicy',
  'AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy', 'DetachUserPolicy', 'DetachRolePolicy', 'DetachGroupPolicy'];

export const iamService: ServiceDef = {
  name: 'iam',
  global: true,
  protocol: 'query',
  iamPrefix: 'iam',
  eventSource: 'iam.amazonaws.com',
  family: () => 'iam',
  mutating: new Set(MUTATING),
  resource: (ctx) => {
    const { world: w, account: a, input } = ctx;
    if (input.RoleName) return arn.role(w, a.id, { path: a.iam.roles.get(String(input.RoleName))?.path ?? '/', name: String(input.RoleName) });
    if (input.UserName) return arn.user(w, a.id, { path: a.iam.users.get(String(input.UserName))?.path ?? '/', name: String(input.UserName) });
    if (input.GroupName) return arn.group(w, a.id, { path: '/', name: String(input.GroupName) });
    if (input.PolicyArn) return String(input.PolicyArn);
    return `arn:${w.partition}:iam::${a.id}:*`;
  },
  // The one resource type an operation is authorized on (a group for AddUserToGroup and
  // RemoveUserFromGroup, as the service authorization reference lists), with its tags.
  // Listing operations name no resource.
  authContext: (ctx) => {
    const { world: w, account: a, input } = ctx;
    const name = (k: string) => str(input[k]);
    if (name('RoleName')) {
      const r = a.iam.roles.get(name('RoleName')!);
      return { resources: [{ arn: arn.role(w, a.id, { path: r?.path ?? '/', name: name('RoleName')! }), tags: r?.tags ?? [] }] };
    }
    if (name('GroupName')) return { resources: [{ arn: arn.group(w, a.id, { path: a.iam.groups.get(name('GroupName')!)?.path ?? '/', name: name('GroupName')! }) }] };
    if (name('UserName')) {
      const u = a.iam.users.get(name('UserName')!);
      return { resources: [{ arn: arn.user(w, a.id, { path: u?.path ?? '/', name: name('UserName')! }), tags: u?.tags ?? [] }] };
    }
    if (name('PolicyArn')) return { resources: [{ arn: name('PolicyArn')!, tags: findPolicy(w, a, name('PolicyArn')!)?.tags ?? [] }] };
    return {};
  },
  ops: {
    GetAccountAuthorizationDetails: (ctx) => {
      const { world: w, account: a } = ctx;
      const filter = new Set(list<string>(ctx.input.Filter));
      const want = (k: string) => filter.size === 0 || filter.has(k);
      type Row = { k: 'U' | 'G' | 'R' | 'P'; v: unknown };
      const rows: Row[] = [];
      if (want('User')) for (const u of sorted(a.iam.users)) rows.push({ k: 'U', v: u });
      if (want('Group')) for (const g of sorted(a.iam.groups)) rows.push({ k: 'G', v: g });
      if (want('Role')) for (const r of sorted(a.iam.roles)) rows.push({ k: 'R', v: r });
      if (want('LocalManagedPolicy')) for (const p of [...a.iam.policies.values()].sort((x, y) => (x.arn < y.arn ? -1 : 1))) rows.push({ k: 'P', v: p });
      if (want('AWSManagedPolicy')) for (const p of attachedAwsPolicies(w, a)) rows.push({ k: 'P', v: p });
      const p = page(ctx, rows, [...filter].sort().join(','));
      const groupsOf = (name: string) => sorted(a.iam.groups).filter((g) => g.members.includes(name)).map((g) => g.name);
      const out = { UserDetailList: [] as unknown[], GroupDetailList: [] as unknown[], RoleDetailList: [] as unknown[], Policies: [] as unknown[] };
      for (const row of p.items) {
        if (row.k === 'U') {
          const u = row.v as IamUser;
          // AWS's UserDetail has no PasswordLastUsed (GetUser / ListUsers do).
          const { PasswordLastUsed: _p, ...detail } = userOut(w, a, u, true);
          out.UserDetailList.push({ ...detail, UserPolicyList: inlineOut(u.inline), GroupList: groupsOf(u.name), AttachedManagedPolicies: attachedOut(w, a, u.attached) });
        } else if (row.k === 'G') {
          const g = row.v as IamGroup;
          out.GroupDetailList.push({ ...groupOut(w, a, g), GroupPolicyList: inlineOut(g.inline), AttachedManagedPolicies: attachedOut(w, a, g.attached) });
        } else if (row.k === 'R') {
          const r = row.v as IamRole;
          // AWS's RoleDetail has no MaxSessionDuration or Description (GetRole / ListRoles do).
          const { MaxSessionDuration: _m, Description: _d, ...detail } = roleOut(w, a, r, true);
          out.RoleDetailList.push({ ...detail, InstanceProfileList: [], RolePolicyList: inlineOut(r.inline), AttachedManagedPolicies: attachedOut(w, a, r.attached) });
        } else {
          const pol = row.v as ManagedPolicy;
          out.Policies.push({ ...policyOut(a, pol, false), PolicyVersionList: [{ Document: enc(pol.document), VersionId: 'v1', IsDefaultVersion: true, CreateDate: new Date(pol.created) }] });
        }
      }
      return { ...out, IsTruncated: p.IsTruncated, ...(p.Marker ? { Marker: p.Marker } : {}) };
    },
    ListUsers: (ctx) => {
      const p = page(ctx, sorted(ctx.account.iam.users).filter(byPath(str(ctx.input.PathPrefix))), str(ctx.input.PathPrefix) ?? '');
      return { Users: p.items.map((u) => userOut(ctx.world, ctx.account, u, false)), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    ListGroups: (ctx) => {
      const p = page(ctx, sorted(ctx.account.iam.groups).filter(byPath(str(ctx.input.PathPrefix))), str(ctx.input.PathPrefix) ?? '');
      return { Groups: p.items.map((g) => groupOut(ctx.world, ctx.account, g)), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    ListRoles: (ctx) => {
      const p = page(ctx, sorted(ctx.account.iam.roles).filter(byPath(str(ctx.input.PathPrefix))), str(ctx.input.PathPrefix) ?? '');
      return { Roles: p.items.map((r) => roleOut(ctx.world, ctx.account, r, false)), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    ListPolicies: (ctx) => {
      const { world: w, account: a } = ctx;
      const scope = str(ctx.input.Scope) ?? 'All';
      const onlyAttached = String(ctx.input.OnlyAttached) === 'true';
      let all: ManagedPolicy[] = [];
      if (scope !== 'AWS') all.push(...[...a.iam.policies.values()].sort((x, y) => (x.arn < y.arn ? -1 : 1)));
      if (scope !== 'Local') all.push(...(onlyAttached ? attachedAwsPolicies(w, a) : [...w.awsPolicies.values()].sort((x, y) => (x.arn < y.arn ? -1 : 1))));
      if (onlyAttached) all = all.filter((p) => attachmentCount(a, p.arn) > 0);
      all = all.filter(byPath(str(ctx.input.PathPrefix)));
      const p = page(ctx, all, `${scope}|${onlyAttached}|${str(ctx.input.PathPrefix) ?? ''}`);
      return { Policies: p.items.map((x) => policyOut(a, x, false)), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    GetUser: (ctx) => ({ User: userOut(ctx.world, ctx.account, user(ctx), true) }),
    GetRole: (ctx) => ({ Role: roleOut(ctx.world, ctx.account, role(ctx), true) }),
    // The world keeps no profiles of its own: an instance's profile is named after its role
    // (what the console creates), so a profile exists exactly when that role does.
    GetInstanceProfile: (ctx) => {
      const name = str(ctx.input.InstanceProfileName) ?? '';
      const r = ctx.account.iam.roles.get(name);
      if (!r) throw noSuch(`Instance Profile ${name} cannot be found.`);
      return { InstanceProfile: {
        Path: r.path, InstanceProfileName: r.name, InstanceProfileId: `AIPA${r.id.slice(4)}`,
        Arn: `arn:${ctx.world.partition}:iam::${ctx.account.id}:instance-profile${r.path}${r.name}`, CreateDate: new Date(r.created),
        Roles: [roleOut(ctx.world, ctx.account, r, false)],
      } };
    },
    GetGroup: (ctx) => {
      const g = group(ctx);
      const members = g.members.map((n) => ctx.account.iam.users.get(n)).filter((u): u is IamUser => !!u).sort((x, y) => (x.name < y.name ? -1 : 1));
      const p = page(ctx, members, g.name);
      return { Group: groupOut(ctx.world, ctx.account, g), Users: p.items.map((u) => userOut(ctx.world, ctx.account, u, false)), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    GetPolicy: (ctx) => ({ Policy: policyOut(ctx.account, policy(ctx), true) }),
    GetPolicyVersion: (ctx) => {
      const p = policy(ctx);
      if (str(ctx.input.VersionId) !== 'v1') throw noSuch(`Policy ${p.arn} version ${str(ctx.input.VersionId)} does not exist or is not attachable.`);
      return { PolicyVersion: { Document: enc(p.document), VersionId: 'v1', IsDefaultVersion: true, CreateDate: new Date(p.created) } };
    },
    ListUserPolicies: (ctx) => inlineList(ctx, user(ctx).inline),
    ListGroupPolicies: (ctx) => inlineList(ctx, group(ctx).inline),
    ListRolePolicies: (ctx) => inlineList(ctx, role(ctx).inline),
    GetUserPolicy: (ctx) => ({ UserName: user(ctx).name, ...inlineGet(ctx, user(ctx).inline, 'user') }),
    GetGroupPolicy: (ctx) => ({ GroupName: group(ctx).name, ...inlineGet(ctx, group(ctx).inline, 'group') }),
    GetRolePolicy: (ctx) => ({ RoleName: role(ctx).name, ...inlineGet(ctx, role(ctx).inline, 'role') }),
    ListAttachedUserPolicies: (ctx) => attachedList(ctx, user(ctx).attached),
    ListAttachedGroupPolicies: (ctx) => attachedList(ctx, group(ctx).attached),
    ListAttachedRolePolicies: (ctx) => attachedList(ctx, role(ctx).attached),
    ListAccessKeys: (ctx) => {
      const u = user(ctx);
      const p = page(ctx, u.accessKeys ?? [], u.name);
      return { AccessKeyMetadata: p.items.map((k) => ({ UserName: u.name, AccessKeyId: k.id, Status: k.status, CreateDate: new Date(k.created) })), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },
    GetAccessKeyLastUsed: (ctx) => {
      const id = str(ctx.input.AccessKeyId);
      for (const u of ctx.account.iam.users.values()) {
        const k = u.accessKeys?.find((x) => x.id === id);
        if (k) {
          return { UserName: u.name, AccessKeyLastUsed: k.lastUsed
            ? { LastUsedDate: new Date(k.lastUsed), ServiceName: k.lastService ?? 'iam', Region: k.lastRegion ?? 'us-east-1' }
            : { ServiceName: 'N/A', Region: 'N/A' } };
        }
      }
      // AWS answers AccessDenied (not NoSuchEntity) for a key id that is not in the account.
      throw new SimError('AccessDenied', `User: ${ctx.session.arn} is not authorized to perform: iam:GetAccessKeyLastUsed on resource: access key ${id}`, 403);
    },
    ListAccountAliases: (ctx) => ({ AccountAliases: ctx.account.iam.aliases, IsTruncated: false }),
    ListGroupsForUser: (ctx) => {
      const u = user(ctx);
      const p = page(ctx, sorted(ctx.account.iam.groups).filter((g) => g.members.includes(u.name)), u.name);
      return { Groups: p.items.map((g) => groupOut(ctx.world, ctx.account, g)), IsTruncated: p.IsTruncated, Marker: p.Marker };
    },

    UpdateAssumeRolePolicy: (ctx) => {
      const r = role(ctx);
      modifiable(r);
      const doc = str(ctx.input.PolicyDocument) ?? '';
      const parsed = parseDoc(doc) as { Statement?: never };
      // IAM does not count white space in a policy's size (reference_iam-quotas says so of
      // inline and managed policies; the simulator applies it to trust policies too).
      const size = JSON.stringify(parsed).length;
      if (size > TRUST_POLICY_MAX) throw new SimError('LimitExceeded', `Cannot exceed quota for ACLSizePerRole: ${TRUST_POLICY_MAX}`, 409);
      const bad = unknownPrincipals(ctx.world, parsed);
      if (bad.length) throw new SimError('MalformedPolicyDocument', `Invalid principal in policy: "AWS":"${bad[0]}"`, 400);
      r.trust = doc;
      return {};
    },
    PutRolePermissionsBoundary: (ctx) => {
      const r = role(ctx);
      modifiable(r);
      r.boundary = boundaryPolicy(ctx);
      return {};
    },
    DeleteRolePermissionsBoundary: (ctx) => { const r = role(ctx); modifiable(r); delete r.boundary; return {}; },
    PutUserPermissionsBoundary: (ctx) => { user(ctx).boundary = boundaryPolicy(ctx); return {}; },
    DeleteUserPermissionsBoundary: (ctx) => { delete user(ctx).boundary; return {}; },
    TagRole: (ctx) => { const r = role(ctx); r.tags = setTags(r.tags, list<Tag>(ctx.input.Tags)); return {}; },
    UntagRole: (ctx) => { const r = role(ctx); const k = new Set(list<string>(ctx.input.TagKeys)); r.tags = (r.tags ?? []).filter((t) => !k.has(t.Key)); return {}; },
    TagUser: (ctx) => { const u = user(ctx); u.tags = setTags(u.tags, list<Tag>(ctx.input.Tags)); return {}; },
    UntagUser: (ctx) => { const u = user(ctx); const k = new Set(list<string>(ctx.input.TagKeys)); u.tags = (u.tags ?? []).filter((t) => !k.has(t.Key)); return {}; },
    AddUserToGroup: (ctx) => {
      const g = group(ctx);
      const u = user(ctx);
      if (!g.members.includes(u.name)) g.members.push(u.name);
      return {};
    },
    RemoveUserFromGroup: (ctx) => {
      const g = group(ctx);
      const u = user(ctx);
      g.members = g.members.filter((m) => m !== u.name);
      return {};
    },
    PutRolePolicy: (ctx) => {
      const r = role(ctx);
      modifiable(r);
      const name = str(ctx.input.PolicyName) ?? '';
      const doc = str(ctx.input.PolicyDocument) ?? '';
      parseDoc(doc);
      const inline = { ...(r.inline ?? {}), [name]: doc };
      const total = Object.values(inline).reduce((n, d) => n + JSON.stringify(JSON.parse(d)).length, 0);
      if (total > INLINE_MAX) throw new SimError('LimitExceeded', `Maximum policy size of ${INLINE_MAX} bytes exceeded for role ${r.name}`, 409);
      r.inline = inline;
      return {};
    },
    AttachUserPolicy: (ctx) => attachTo(ctx, user(ctx), 'PoliciesPerUser'),
    AttachGroupPolicy: (ctx) => attachTo(ctx, group(ctx), 'PoliciesPerGroup'),
    AttachRolePolicy: (ctx) => { const r = role(ctx); modifiable(r); return attachTo(ctx, r, 'PoliciesPerRole'); },
    DetachUserPolicy: (ctx) => detachFrom(ctx, user(ctx)),
    DetachGroupPolicy: (ctx) => detachFrom(ctx, group(ctx)),
    DetachRolePolicy: (ctx) => { const r = role(ctx); modifiable(r); return detachFrom(ctx, r); },
    DeleteRolePolicy: (ctx) => {
      const r = role(ctx);
      modifiable(r);
      const name = str(ctx.input.PolicyName) ?? '';
      if (!r.inline?.[name]) throw noSuch(`The role policy with name ${name} cannot be found.`);
      delete r.inline[name];
      return {};
    },
  },
};

function boundaryPolicy(ctx: Ctx): string {
  const a = str(ctx.input.PermissionsBoundary) ?? '';
  if (!findPolicy(ctx.world, ctx.account, a)) throw noSuch(`Scope ARN: ${a} does not exist or is not attachable.`);
  return a;
}
function inlineList(ctx: Ctx, m?: Record<string, string>) {
  const p = page(ctx, Object.keys(m ?? {}).sort(), String(ctx.input.UserName ?? ctx.input.GroupName ?? ctx.input.RoleName));
  return { PolicyNames: p.items, IsTruncated: p.IsTruncated, Marker: p.Marker };
}
function inlineGet(ctx: Ctx, m: Record<string, string> | undefined, kind: string) {
  const name = str(ctx.input.PolicyName) ?? '';
  const d = m?.[name];
  if (d === undefined) throw noSuch(`The ${kind} policy with name ${name} cannot be found.`);
  return { PolicyName: name, PolicyDocument: enc(d) };
}
function attachedList(ctx: Ctx, arns?: string[]) {
  const p = page(ctx, attachedOut(ctx.world, ctx.account, arns), ctx.op + String(ctx.input.UserName ?? ctx.input.GroupName ?? ctx.input.RoleName));
  return { AttachedPolicies: p.items, IsTruncated: p.IsTruncated, Marker: p.Marker };
}

/**
 * IAM's default quota of managed policies attached to one user, role or group
 * (reference_iam-quotas; users and roles may be raised to 20, groups not). An account may
 * carry its own figure (a raised quota) in `iam.managedPoliciesQuota`.
 */
export const MANAGED_POLICIES_PER_PRINCIPAL = 10;
const POLICY_ARN = /^arn:[\w-]+:iam::(\d{12}|aws):policy\/[\x21-\x7e]+$/;

function policyArnInput(ctx: Ctx): string {
  const a = str(ctx.input.PolicyArn) ?? '';
  if (a.length < 20) throw validation('iam', `1 validation error detected: Value '${a}' at 'policyArn' failed to satisfy constraint: Member must have length greater than or equal to 20`);
  if (!POLICY_ARN.test(a)) throw new SimError('InvalidInput', `ARN ${a} is not valid.`, 400);
  return a;
}
/** Attaching an attached policy again succeeds and changes nothing, as in AWS. */
function attachTo(ctx: Ctx, x: { attached?: string[] }, quota: string) {
  const a = policyArnInput(ctx);
  policy(ctx, a);
  const list = x.attached ?? [];
  if (list.includes(a)) return {};
  const max = ctx.account.iam.managedPoliciesQuota ?? MANAGED_POLICIES_PER_PRINCIPAL;
  const limit = quota === 'PoliciesPerGroup' ? MANAGED_POLICIES_PER_PRINCIPAL : max;
  if (list.length >= limit) throw new SimError('LimitExceeded', `Cannot exceed quota for ${quota}: ${limit}`, 409);
  x.attached = [...list, a];
  return {};
}
function detachFrom(ctx: Ctx, x: { attached?: string[] }) {
  const a = policyArnInput(ctx);
  if (!x.attached?.includes(a)) throw noSuch(`Policy ${a} was not found.`);
  x.attached = x.attached.filter((p) => p !== a);
  return {};
}
