// IAM in each entered account: users (with their access keys), groups, roles and
// customer-managed policies. GetAccountAuthorizationDetails (GAAD) returns all of them with
// trust policies, boundaries, tags, attachments and roles' last use (RoleLastUsed) in one
// paged call, far fewer calls than List* + Get* per principal. Two fields GAAD lacks come
// from one list walk each: ListRoles (a role's description and maximum session) and
// ListUsers (a user's password last used).
//
// AWS-managed policies are not emitted as entities, only referenced by ARN in
// `attachedManagedPolicies` / `permissionsBoundary`. They are AWS's catalogue, the same in
// every account, so an entity for one would belong to no single unit: every account that
// attaches it would emit the same id, and "emit it once" needs state shared by all units of
// a sync, which a resumed or sharded (accountIds) sync does not have. GAAD is asked not to
// return them (they are also the largest documents: every version of ReadOnlyAccess).
import {
  GetAccessKeyLastUsedCommand,
  GetAccountAuthorizationDetailsCommand,
  IAMClient,
  ListAccessKeysCommand,
  ListRolesCommand,
  ListUsersCommand,
  type AttachedPolicy,
  type GroupDetail,
  type ManagedPolicyDetail,
  type PolicyDetail,
  type RoleDetail,
  type UserDetail,
} from '@aws-sdk/client-iam';
import { paginate, pageSize } from '../../aws/paginate.js';
import type { Entity } from '../../protocol/messages.js';
import { ids } from '../ids.js';
import { tagFields, tagRecord, type EntitySource, type SourceContext } from '../types.js';
import { optionalRead, UNKNOWN, withUnknowns, type Unknown } from '../optional.js';

/**
 * GAAD (and ListRoles) page size. A GAAD page carries whole documents: per role a trust
 * policy (≤ 4 KiB) and inline policies (≤ 10 KiB together), per customer-managed policy
 * every version (≤ 5 × 6 KiB), all URL-encoded (up to 3× longer). At AWS's maximum of 1,000
 * items a worst-case page is tens of MB, held (XML and parsed) for every account the runner
 * reads at once; at 100, AWS's own default, it stays at a few MB, for one extra call per
 * 100 principals (a typical account needs one or two pages).
 */
export const IAM_PAGE_SIZE = 100;

/** A customer-managed policy's default document is sent only up to this size (minified JSON, bytes). */
export const MAX_POLICY_DOCUMENT_BYTES = 8 * 1024;

export interface IamSourceOptions {
  /** MaxItems for GAAD and ListRoles (default IAM_PAGE_SIZE; tests use a small one to page). */
  pageSize?: number;
}

interface Scope { ctx: SourceContext; accountId: string; parentId: string }

const iso = (d: Date | undefined) => d?.toISOString() ?? null;
const attachedArns = (l: AttachedPolicy[] | undefined) => (l ?? []).flatMap((p) => (p.PolicyArn ? [p.PolicyArn] : []));
const inlineNames = (l: PolicyDetail[] | undefined) => (l ?? []).flatMap((p) => (p.PolicyName ? [p.PolicyName] : []));

/** GAAD documents are URL-encoded JSON. An unreadable one is a warning, not a failed unit. */
function policyJson(s: Scope, raw: string | undefined, what: string): unknown {
  if (raw === undefined) return null;
  try {
    return JSON.parse(decodeURIComponent(raw));
  } catch {
    s.ctx.warn('IAM_POLICY_UNREADABLE', `iam.GetAccountAuthorizationDetails in ${s.accountId}: the policy document of ${what} is not URL-encoded JSON; sent without it`);
    return null;
  }
}

function common(s: Scope, arn: string, name: string, tagList?: Parameters<typeof tagRecord>[0]) {
  const tags = tagRecord(tagList);
  return { id: ids.iam(arn), name, accountId: s.accountId, arn, parentId: s.parentId, ...tagFields(s.ctx.plan.integration, tags) };
}

function userEntity(s: Scope, u: UserDetail & { Arn: string }, passwords: Map<string, Date | undefined> | Unknown): Entity {
  return {
    kind: 'iam.user',
    ...common(s, u.Arn, u.UserName ?? u.Arn, u.Tags),
    attributes: withUnknowns(
      {
        userId: u.UserId, path: u.Path, createDate: iso(u.CreateDate),
        groups: u.GroupList ?? [],
        attachedManagedPolicies: attachedArns(u.AttachedManagedPolicies),
        inlinePolicies: inlineNames(u.UserPolicyList),
        permissionsBoundary: u.PermissionsBoundary?.PermissionsBoundaryArn ?? null,
      },
      // null: no console sign-in with the password that IAM tracks (since October 2014), or no password.
      { passwordLastUsed: passwords === UNKNOWN ? UNKNOWN : iso(passwords.get(u.Arn)) },
    ),
  };
}

function groupEntity(s: Scope, g: GroupDetail & { Arn: string }): Entity {
  return {
    kind: 'iam.group',
    ...common(s, g.Arn, g.GroupName ?? g.Arn),
    attributes: {
      groupId: g.GroupId, path: g.Path, createDate: iso(g.CreateDate),
      attachedManagedPolicies: attachedArns(g.AttachedManagedPolicies),
      inlinePolicies: inlineNames(g.GroupPolicyList),
    },
  };
}

function roleEntity(s: Scope, r: RoleDetail & { Arn: string }, extras: Map<string, RoleExtra> | Unknown): Entity {
  const extra = extras === UNKNOWN ? undefined : extras.get(r.Arn);
  return {
    kind: 'iam.role',
    ...common(s, r.Arn, r.RoleName ?? r.Arn, r.Tags),
    attributes: withUnknowns(
      {
        roleId: r.RoleId, path: r.Path, createDate: iso(r.CreateDate),
        trustPolicy: policyJson(s, r.AssumeRolePolicyDocument, `role ${r.Arn}`),
        permissionsBoundary: r.PermissionsBoundary?.PermissionsBoundaryArn ?? null,
        attachedManagedPolicies: attachedArns(r.AttachedManagedPolicies),
        inlinePolicies: inlineNames(r.RolePolicyList),
        lastUsedDate: iso(r.RoleLastUsed?.LastUsedDate),
        lastUsedRegion: r.RoleLastUsed?.Region ?? null,
      },
      {
        description: extras === UNKNOWN ? UNKNOWN : (extra?.description ?? null),
        maxSessionDuration: extras === UNKNOWN ? UNKNOWN : (extra?.maxSessionDuration ?? null),
      },
    ),
  };
}

function policyEntity(s: Scope, p: ManagedPolicyDetail & { Arn: string }): Entity {
  const version = p.PolicyVersionList?.find((v) => v.IsDefaultVersion);
  const doc = policyJson(s, version?.Document, `policy ${p.Arn}`);
  const size = doc === null ? 0 : Buffer.byteLength(JSON.stringify(doc));
  return {
    kind: 'iam.policy',
    ...common(s, p.Arn, p.PolicyName ?? p.Arn),
    attributes: {
      policyId: p.PolicyId, path: p.Path, createDate: iso(p.CreateDate), updateDate: iso(p.UpdateDate),
      description: p.Description ?? null,
      defaultVersionId: p.DefaultVersionId ?? null,
      attachmentCount: p.AttachmentCount ?? 0,
      permissionsBoundaryUsageCount: p.PermissionsBoundaryUsageCount ?? 0,
      isAttachable: p.IsAttachable ?? true,
      // Large documents would crowd a 1 MiB batch frame; the size says why one is missing.
      document: size <= MAX_POLICY_DOCUMENT_BYTES ? doc : null,
      documentSize: size,
    },
  };
}

/** A user's access keys: ids, status and last use. The API never returns a secret, and nothing here asks for one. */
async function* accessKeys(s: Scope, iam: IAMClient, userArn: string, userName: string): AsyncGenerator<Entity> {
  const lastUsed = (id: string) => optionalRead(s.ctx, 'iam:GetAccessKeyLastUsed', async () => (await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: id }))).AccessKeyLastUsed);
  for await (const page of paginate(async (t) => {
    const o = await iam.send(new ListAccessKeysCommand({ UserName: userName, MaxItems: pageSize('iam'), Marker: t }));
    return { items: o.AccessKeyMetadata, next: o.IsTruncated ? o.Marker : undefined };
  })) {
    for (const k of page) {
      if (!k.AccessKeyId) continue;
      const got = await lastUsed(k.AccessKeyId);
      const used = got === UNKNOWN ? undefined : got;
      // A key never used has no date, and ServiceName / Region "N/A".
      const seen = used?.LastUsedDate !== undefined;
      const ifKnown = <T>(v: T): T | Unknown => (got === UNKNOWN ? UNKNOWN : v);
      yield {
        kind: 'iam.accessKey',
        id: ids.accessKey(userArn, k.AccessKeyId),
        name: k.AccessKeyId,
        accountId: s.accountId,
        parentId: ids.iam(userArn),
        attributes: withUnknowns(
          { accessKeyId: k.AccessKeyId, userName, status: k.Status ?? null, createDate: iso(k.CreateDate) },
          {
            lastUsedDate: ifKnown(iso(used?.LastUsedDate)),
            lastUsedService: ifKnown(seen ? used?.ServiceName ?? null : null),
            lastUsedRegion: ifKnown(seen ? used?.Region ?? null : null),
          },
        ),
      };
    }
  }
}

/**
 * GAAD's UserDetail has no PasswordLastUsed; ListUsers has it (GetUser too, one call per
 * user). One ListUsers walk per account, kept as one date per user (IAM allows 5,000).
 */
async function passwordsLastUsed(iam: IAMClient, maxItems: number): Promise<Map<string, Date | undefined>> {
  const out = new Map<string, Date | undefined>();
  for await (const page of paginate(async (t) => {
    const o = await iam.send(new ListUsersCommand({ MaxItems: maxItems, Marker: t }));
    return { items: o.Users, next: o.IsTruncated ? o.Marker : undefined };
  })) {
    for (const u of page) if (u.Arn) out.set(u.Arn, u.PasswordLastUsed);
  }
  return out;
}

interface RoleExtra { maxSessionDuration?: number; description?: string }

/**
 * GAAD's RoleDetail has no MaxSessionDuration or Description; ListRoles has both. Only those
 * two small fields are kept per role, so memory grows with the role count (IAM allows at
 * most 5,000 per account), not with documents.
 */
async function roleExtras(iam: IAMClient, maxItems: number): Promise<Map<string, RoleExtra>> {
  const out = new Map<string, RoleExtra>();
  for await (const page of paginate(async (t) => {
    const o = await iam.send(new ListRolesCommand({ MaxItems: maxItems, Marker: t }));
    return { items: o.Roles, next: o.IsTruncated ? o.Marker : undefined };
  })) {
    for (const r of page) {
      if (r.Arn) out.set(r.Arn, { ...(r.MaxSessionDuration !== undefined && { maxSessionDuration: r.MaxSessionDuration }), ...(r.Description !== undefined && { description: r.Description }) });
    }
  }
  return out;
}

const hasArn = <T extends { Arn?: string | undefined }>(x: T): x is T & { Arn: string } => !!x.Arn;

async function* readAccount(ctx: SourceContext, maxItems: number): AsyncGenerator<Entity> {
  const accountId = ctx.unit.accountId;
  const s: Scope = {
    ctx, accountId,
    parentId: ctx.plan.accounts.find((a) => a.id === accountId)?.arn ?? ids.account(ctx.plan.partition, accountId, ctx.plan.organization),
  };
  const iam = await ctx.session.memberClient(IAMClient, accountId);
  // Only two role fields come from ListRoles: without it the roles are still sent.
  const extras = await optionalRead(ctx, 'iam:ListRoles', () => roleExtras(iam, maxItems));
  // Only one user field comes from ListUsers, read when GAAD shows the first user: accounts
  // without IAM users (common where people sign in through Identity Center) pay nothing.
  let passwords: Promise<Map<string, Date | undefined> | Unknown> | undefined;
  // One page at a time: its entities are yielded (and each user's keys read) before the next page is asked for.
  for await (const [page] of paginate(async (t) => {
    const o = await iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['User', 'Group', 'Role', 'LocalManagedPolicy'], MaxItems: maxItems, Marker: t }));
    return { items: [o], next: o.IsTruncated ? o.Marker : undefined };
  })) {
    if (!page) continue;
    for (const g of (page.GroupDetailList ?? []).filter(hasArn)) yield groupEntity(s, g);
    for (const r of (page.RoleDetailList ?? []).filter(hasArn)) yield roleEntity(s, r, extras);
    for (const p of (page.Policies ?? []).filter(hasArn)) yield policyEntity(s, p);
    // The users' own calls (ListUsers, then ListAccessKeys and GetAccessKeyLastUsed per user)
    // are where an account's unit spends its time, and the page's groups, roles and policies
    // (their URL-encoded documents: most of a page) are sent by then: they are let go
    // instead of being held, for each IAM unit running, until the users are done.
    const users = (page.UserDetailList ?? []).filter(hasArn);
    page.GroupDetailList = undefined;
    page.RoleDetailList = undefined;
    page.Policies = undefined;
    page.UserDetailList = undefined;
    for (const u of users) {
      passwords ??= optionalRead(ctx, 'iam:ListUsers', () => passwordsLastUsed(iam, maxItems), { throttled: true });
      yield userEntity(s, u, await passwords);
      if (u.UserName) yield* accessKeys(s, iam, u.Arn, u.UserName);
    }
  }
}

export function createIamSource(opts: IamSourceOptions = {}): EntitySource {
  const maxItems = pageSize('iamAuthorizationDetails', opts.pageSize ?? IAM_PAGE_SIZE);
  return {
    name: 'iam',
    scope: 'account',
    resourceType: 'iam',
    // iam.groupPolicy: derived in this unit with sync params `expand` (src/sync/expand.ts).
    entityKinds: ['iam.user', 'iam.accessKey', 'iam.group', 'iam.role', 'iam.policy', 'iam.groupPolicy'],
    requiredActions: ['iam:GetAccountAuthorizationDetails', 'iam:ListRoles', 'iam:ListUsers', 'iam:ListAccessKeys', 'iam:GetAccessKeyLastUsed'],
    units: (plan) => plan.accounts.map((a) => ({ source: 'iam', accountId: a.id, region: 'global' })),
    read: (ctx) => readAccount(ctx, maxItems),
  };
}

export const iamSource: EntitySource = createIamSource();
