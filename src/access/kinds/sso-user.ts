// sso.user: an Identity Center user, created in the Identity Store for the time of the
// grant when there is none of that user name; revoke deletes it. A user that existed before
// is pre-existing: the runner never revokes it. The principal's id is the user name (the
// user has no Identity Store id before the grant). Users of an external identity provider
// or Active Directory are provisioned by that directory, so the kind is refused there unless
// the policy file allows external identity source writes. Revoke never deletes a user that
// still holds access (group memberships, account assignments): other grants may rest on it.
import {
  CreateUserCommand,
  DeleteUserCommand,
  DescribeUserCommand,
  GetUserIdCommand,
  ListGroupMembershipsForMemberCommand,
  ListUsersCommand,
} from '@aws-sdk/client-identitystore';
import { ListAccountAssignmentsForPrincipalCommand } from '@aws-sdk/client-sso-admin';
import * as z from 'zod';
import { isNotFound } from '../../aws/errors.js';
import { pageSize, paginate } from '../../aws/paginate.js';
import { ConnectorError } from '../../errors.js';
import { IDENTITY_STORE_ID, identityStoreClient, portalLink, ssoAdminClient, ssoInstance } from '../identity-center.js';
import { beforeChange, sendChange, type AccessContext, type AccessKindDef, type AccessRequest, type Principal } from '../types.js';

// A user name the connector creates: letters, digits and . _ @ + - (e-mail addresses fit).
// Identity Store accepts more; names with quotes, spaces or control characters are refused
// here so they never reach a portal, a log or a shell.
const USER_NAME = /^[A-Za-z0-9._@+-]{1,128}$/;
// Names shown in the portal: printable, no control, format or line-separator characters.
const text = (max: number) => z.string().min(1).max(max).regex(/^[^\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]+$/u, 'must be printable text').refine((s) => s.trim() === s, 'must not start or end with white space');

const target = z.strictObject({
  displayName: text(256),
  givenName: text(128),
  familyName: text(128),
  email: z.string().max(254).regex(/^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/, 'must be an e-mail address').optional(),
});
type Target = z.infer<typeof target>;

function checkPrincipal(p: Principal): string | undefined {
  if (p.type !== 'user') return 'principal.type must be user';
  return USER_NAME.test(p.id) ? undefined : 'principal.id must be the user name to create: 1–128 of A-Z a-z 0-9 . _ @ + -';
}

function userName(req: AccessRequest<Target>): string {
  const bad = checkPrincipal(req.principal);
  if (bad) throw new ConnectorError('JOB_PARAMS_INVALID', bad);
  const t = target.safeParse(req.target);
  if (!t.success) throw new ConnectorError('JOB_PARAMS_INVALID', `target.${t.error.issues[0]?.path.join('.') ?? ''} ${t.error.issues[0]?.message ?? 'is invalid'}`);
  return req.principal.id;
}

/** The Identity Store id of the user of that name, or undefined. */
async function userIdOf(ctx: AccessContext, name: string): Promise<string | undefined> {
  const { identityStoreId } = await ssoInstance(ctx);
  const store = await identityStoreClient(ctx);
  try {
    const r = await store.send(new GetUserIdCommand({ IdentityStoreId: identityStoreId, AlternateIdentifier: { UniqueAttribute: { AttributePath: 'userName', AttributeValue: name } } }));
    return r.UserId;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * No API names the identity source. Users provisioned by SCIM or synced from Active
 * Directory carry ExternalIds (the sync infers the source the same way): one such user
 * means the directory is external. Stops at the first one.
 */
async function externalUserSeen(ctx: AccessContext): Promise<boolean> {
  const { identityStoreId } = await ssoInstance(ctx);
  const store = await identityStoreClient(ctx);
  for await (const users of paginate(async (t) => {
    const r = await store.send(new ListUsersCommand({ IdentityStoreId: identityStoreId, MaxResults: pageSize('identityStore'), NextToken: t }));
    return { items: r.Users, next: r.NextToken };
  })) {
    if (users.some((u) => (u.ExternalIds?.length ?? 0) > 0)) return true;
  }
  return false;
}

export const ssoUser: AccessKindDef<Target> = {
  name: 'sso.user',
  summary: "Creates an Identity Center user in Identity Center's own directory when none of that user name exists; revoke deletes the user it created.",
  principalTypes: ['user'],
  target,
  checkPrincipal,
  requiredActions: [
    'sso:ListInstances',
    'identitystore:ListUsers',
    'identitystore:GetUserId',
    'identitystore:CreateUser',
    'identitystore:DescribeUser',
    'identitystore:ListGroupMembershipsForMember',
    'sso:ListAccountAssignmentsForPrincipal',
    'identitystore:DeleteUser',
  ],

  // Identity Store user names are unique regardless of case.
  accessKey: (req) => `sso.user:${req.principal.id.toLowerCase()}`,

  async facts(ctx, req) {
    userName(req);
    if (!ctx.settings.allowExternalIdentityWrites && (await externalUserSeen(ctx))) {
      throw new ConnectorError(
        'ACCESS_REFUSED',
        'Users of this Identity Center instance come from an external identity provider or Active Directory (users carry ExternalIds): a user created in Identity Center does not exist in that directory and may be removed by its next sync. Create the user in the directory, or allow it with allowExternalIdentitySourceWrites in the policy file.',
      );
    }
    // A new user reaches no account: assignments and memberships are grants of their own.
    return { accountIds: [] };
  },

  async describe(ctx, req) {
    const userId = await userIdOf(ctx, userName(req));
    // The id is kept when a grant whose answer was lost finds the user in place after all.
    return userId === undefined ? { present: false } : { present: true, observed: { userId } };
  },

  async grant(ctx, req) {
    const name = userName(req);
    const { identityStoreId } = await beforeChange(() => ssoInstance(ctx));
    const store = await beforeChange(() => identityStoreClient(ctx));
    const t = req.target;
    const r = await sendChange(() => store.send(new CreateUserCommand({
      IdentityStoreId: identityStoreId, UserName: name, DisplayName: t.displayName, Name: { GivenName: t.givenName, FamilyName: t.familyName },
      ...(t.email && { Emails: [{ Value: t.email, Type: 'work', Primary: true }] }),
    })));
    // Kept in the ledger: revoke deletes this user, never another one given the same name later.
    return { userId: r.UserId ?? null };
  },

  async revoke(ctx, req, kept) {
    const name = userName(req);
    const userId = kept.userId;
    if (typeof userId !== 'string' || !IDENTITY_STORE_ID.test(userId)) {
      throw new ConnectorError('ACCESS_FAILED', `the ledger holds no valid Identity Store id for the user ${name} the grant created; the user was left in place`);
    }
    const { identityStoreId, instanceArn } = await ssoInstance(ctx);
    const store = await identityStoreClient(ctx);
    let found: string | undefined;
    try {
      found = (await store.send(new DescribeUserCommand({ IdentityStoreId: identityStoreId, UserId: userId }))).UserName;
    } catch (err) {
      if (isNotFound(err)) return { notes: [`the user ${name} (${userId}) was already deleted`] };
      throw err;
    }
    if (found?.toLowerCase() !== name.toLowerCase()) {
      return { notes: [`the user ${userId} is now named ${found ?? 'nothing'}, not ${name}; left in place`] };
    }
    const memberships = await store.send(new ListGroupMembershipsForMemberCommand({ IdentityStoreId: identityStoreId, MemberId: { UserId: userId }, MaxResults: 1 }));
    const sso = await ssoAdminClient(ctx);
    const assignments = await sso.send(new ListAccountAssignmentsForPrincipalCommand({ InstanceArn: instanceArn, PrincipalId: userId, PrincipalType: 'USER', MaxResults: 1 }));
    if ((memberships.GroupMemberships?.length ?? 0) > 0 || (assignments.AccountAssignments?.length ?? 0) > 0) {
      throw new ConnectorError(
        'ACCESS_FAILED',
        `the user ${name} (${userId}) still has group memberships or account assignments; it was left in place. Revoke the grants that use it (or remove them), then revoke this one again`,
        { retryable: true },
      );
    }
    try {
      await store.send(new DeleteUserCommand({ IdentityStoreId: identityStoreId, UserId: userId }));
    } catch (err) {
      if (isNotFound(err)) return { notes: [`the user ${name} (${userId}) was already deleted`] };
      throw err;
    }
    return { notes: [`the user ${name} (${userId}) was deleted`] };
  },

  accessDetails(ctx, req) {
    const link = portalLink(ctx);
    return {
      instructions: [
        `The Identity Center user ${req.principal.id} exists. It has no access of its own: group memberships and account assignments are granted separately. A user created through the API may need an administrator to send it a password reset from the Identity Center console before its first sign-in.`,
        link.note,
      ].filter(Boolean).join(' '),
      ...(link.url && { url: link.url }),
      revokeLimits: ['Revoke deletes the user only when it no longer has group memberships or account assignments; sessions opened before it was deleted last until their session duration ends.'],
      ...(ctx.integration.customAccessDetails && { custom: ctx.integration.customAccessDetails }),
    };
  },
};
